/**
 * The Face Transformer's variables under PyTorch names, both ways, and the architecture read back
 * from a PyTorch state dict's shapes. Three key layouts are known:
 *
 *   `report`    the student report's module: conv, transformer.layers.N.{self_attn.in_proj_weight,
 *               self_attn.out_proj, linear1, linear2, norm1, norm2}, transformer.norm,
 *               to_patch_embedding (1x1 conv), deconv; optional pos_embedding [1,T,D]
 *   `reference` ../shared/peer/torch_vit_bench.py's ViTSegmenter: conv, pos [1,T,D], layers.N...,
 *               norm, to_patch_embedding, deconv (what `fprl export` writes)
 *   `timm`      timm ViT backbones (patch_embed.proj, cls_token, pos_embed [1,1+T,D],
 *               blocks.N.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}, norm), and
 *               Hugging Face ViTModel keys (embeddings..., encoder.layer.N..., layernorm), renamed
 *               to timm's first: the encoder only; the dense head (proj, head) starts fresh
 *
 * A rule says how a PyTorch tensor becomes an fprl variable: reshape to `core`, then permute the
 * axes by `perm` (agents/vit/README.md, "Variables", has the same table in words).
 */
import { FprlError } from '../../src/core/errors.js';
import { numel, permute, shapeText } from '../../src/interop/tensors.js';
import { blockParamNames } from './params.js';
import { numTokens, resolveViTConfig, type ViTConfig } from './config.js';
import { PRESETS } from './config.js';

export type TorchLayout = 'report' | 'reference' | 'timm';

/** One fprl variable under a PyTorch name. */
export interface TorchRule {
  torch: string;
  fprl: string;
  /** PyTorch's shape. */
  torchShape: number[];
  /** The PyTorch tensor reshaped to this (same element order) before `perm`. */
  core: number[];
  /** Axes of `core` in fprl's order (undefined: none). */
  perm?: number[];
}

function lin(torch: string, fprl: string, out: number, inp: number): TorchRule {
  return { torch, fprl, torchShape: [out, inp], core: [out, inp], perm: [1, 0] };
}
function vec(torch: string, fprl: string, n: number): TorchRule {
  return { torch, fprl, torchShape: [n], core: [n] };
}

/** The rules of the `report` and `reference` layouts: every fprl variable, in fprl order. */
export function torchRules(c: ViTConfig, layout: 'report' | 'reference'): TorchRule[] {
  const { patchSize: P, dim: D, mlpDim: M, numClasses: C } = c;
  const T = numTokens(c);
  const enc = layout === 'report' ? 'transformer.' : '';
  const rules: TorchRule[] = [
    {
      torch: 'conv.weight',
      fprl: 'patch_embed/kernel',
      torchShape: [D, 3, P, P],
      core: [D, 3, P, P],
      perm: [2, 3, 1, 0],
    },
    vec('conv.bias', 'patch_embed/bias', D),
  ];
  if (c.posEmbedding) {
    const name = layout === 'report' ? 'pos_embedding' : 'pos';
    rules.push({ torch: name, fprl: 'pos_embed', torchShape: [1, T, D], core: [T, D] });
  }
  for (let i = 0; i < c.depth; i++) {
    const n = blockParamNames(i);
    const p = `${enc}layers.${i}.`;
    rules.push(
      vec(`${p}norm1.weight`, n.norm1Gamma, D),
      vec(`${p}norm1.bias`, n.norm1Beta, D),
      lin(`${p}self_attn.in_proj_weight`, n.qkvKernel, 3 * D, D),
      vec(`${p}self_attn.in_proj_bias`, n.qkvBias, 3 * D),
      lin(`${p}self_attn.out_proj.weight`, n.outKernel, D, D),
      vec(`${p}self_attn.out_proj.bias`, n.outBias, D),
      vec(`${p}norm2.weight`, n.norm2Gamma, D),
      vec(`${p}norm2.bias`, n.norm2Beta, D),
      lin(`${p}linear1.weight`, n.fc1Kernel, M, D),
      vec(`${p}linear1.bias`, n.fc1Bias, M),
      lin(`${p}linear2.weight`, n.fc2Kernel, D, M),
      vec(`${p}linear2.bias`, n.fc2Bias, D),
    );
  }
  rules.push(
    vec(`${enc}norm.weight`, 'norm/gamma', D),
    vec(`${enc}norm.bias`, 'norm/beta', D),
    {
      torch: 'to_patch_embedding.weight',
      fprl: 'proj/kernel',
      torchShape: [D, D, 1, 1],
      core: [D, D],
      perm: [1, 0],
    },
    vec('to_patch_embedding.bias', 'proj/bias', D),
    {
      torch: 'deconv.weight',
      fprl: 'head/kernel',
      torchShape: [D, C, P, P],
      core: [D, C, P, P],
      perm: [0, 2, 3, 1],
    },
    vec('deconv.bias', 'head/bias', C),
  );
  return rules;
}

/** The rules of the `timm` layout (encoder only); pos_embed and cls_token are handled apart. */
export function timmRules(c: ViTConfig): TorchRule[] {
  const { patchSize: P, dim: D, mlpDim: M } = c;
  const rules: TorchRule[] = [
    {
      torch: 'patch_embed.proj.weight',
      fprl: 'patch_embed/kernel',
      torchShape: [D, 3, P, P],
      core: [D, 3, P, P],
      perm: [2, 3, 1, 0],
    },
    vec('patch_embed.proj.bias', 'patch_embed/bias', D),
  ];
  for (let i = 0; i < c.depth; i++) {
    const n = blockParamNames(i);
    const p = `blocks.${i}.`;
    rules.push(
      vec(`${p}norm1.weight`, n.norm1Gamma, D),
      vec(`${p}norm1.bias`, n.norm1Beta, D),
      lin(`${p}attn.qkv.weight`, n.qkvKernel, 3 * D, D),
      vec(`${p}attn.qkv.bias`, n.qkvBias, 3 * D),
      lin(`${p}attn.proj.weight`, n.outKernel, D, D),
      vec(`${p}attn.proj.bias`, n.outBias, D),
      vec(`${p}norm2.weight`, n.norm2Gamma, D),
      vec(`${p}norm2.bias`, n.norm2Beta, D),
      lin(`${p}mlp.fc1.weight`, n.fc1Kernel, M, D),
      vec(`${p}mlp.fc1.bias`, n.fc1Bias, M),
      lin(`${p}mlp.fc2.weight`, n.fc2Kernel, D, M),
      vec(`${p}mlp.fc2.bias`, n.fc2Bias, D),
    );
  }
  rules.push(vec('norm.weight', 'norm/gamma', D), vec('norm.bias', 'norm/beta', D));
  return rules;
}

/** Keys of a timm checkpoint fprl does not use (a classifier, the class token...): reported, not loaded. */
export const TIMM_DROPPED = [
  'cls_token',
  'head.weight',
  'head.bias',
  'fc_norm.weight',
  'fc_norm.bias',
  'pre_logits.fc.weight',
  'pre_logits.fc.bias',
];

/** A PyTorch tensor's values in fprl's layout. */
export function toFprl(rule: TorchRule, data: Float32Array): Float32Array {
  return rule.perm ? permute(data, rule.core, rule.perm) : data;
}

/** fprl's shape of a rule's variable. */
export function fprlShape(rule: TorchRule): number[] {
  return rule.perm ? rule.perm.map((p) => rule.core[p]) : rule.core;
}

/** An fprl variable's values in PyTorch's layout (the inverse of {@link toFprl}). */
export function toTorch(rule: TorchRule, data: Float32Array): Float32Array {
  if (!rule.perm) return data;
  const inverse = new Array<number>(rule.perm.length);
  rule.perm.forEach((p, i) => (inverse[p] = i));
  return permute(data, fprlShape(rule), inverse);
}

/** The anchor key that identifies each layout (after the module prefix). */
export const LAYOUT_ANCHORS: Record<TorchLayout, string> = {
  report: 'transformer.layers.0.self_attn.in_proj_weight',
  reference: 'layers.0.self_attn.in_proj_weight',
  timm: 'blocks.0.attn.qkv.weight',
};

/**
 * Rename Hugging Face ViTModel keys to timm's (q, k, v concatenated by the caller through
 * {@link HF_QKV}). Returns undefined for a key that is not one.
 */
export function hfToTimm(key: string): string | undefined {
  const table: [RegExp, string][] = [
    [/^embeddings\.patch_embeddings\.projection\.(weight|bias)$/, 'patch_embed.proj.$1'],
    [/^embeddings\.position_embeddings$/, 'pos_embed'],
    [/^embeddings\.cls_token$/, 'cls_token'],
    [/^encoder\.layer\.(\d+)\.layernorm_before\.(weight|bias)$/, 'blocks.$1.norm1.$2'],
    [/^encoder\.layer\.(\d+)\.layernorm_after\.(weight|bias)$/, 'blocks.$1.norm2.$2'],
    [/^encoder\.layer\.(\d+)\.attention\.output\.dense\.(weight|bias)$/, 'blocks.$1.attn.proj.$2'],
    [/^encoder\.layer\.(\d+)\.intermediate\.dense\.(weight|bias)$/, 'blocks.$1.mlp.fc1.$2'],
    [/^encoder\.layer\.(\d+)\.output\.dense\.(weight|bias)$/, 'blocks.$1.mlp.fc2.$2'],
    [/^layernorm\.(weight|bias)$/, 'norm.$1'],
    [/^pooler\.dense\.(weight|bias)$/, 'head.$1'],
  ];
  for (const [re, to] of table) if (re.test(key)) return key.replace(re, to);
  return undefined;
}

/** Hugging Face's separate query, key, value projections (concatenated into timm's qkv). */
export const HF_QKV = /^encoder\.layer\.(\d+)\.attention\.attention\.(query|key|value)\.(weight|bias)$/;

/** What the importer could not read from shapes and takes from the user, the checkpoint or a preset. */
export interface ArchHints {
  preset?: string;
  heads?: number;
  imageSize?: number;
  normFirst?: boolean;
  numClasses?: number;
  /** LayerNorm epsilon of the source (timm: 1e-6; Hugging Face: 1e-12; PyTorch's layers: 1e-5). */
  layerNormEps?: number;
  /** A Lightning checkpoint's plain hyper-parameters (heads, image_size, norm_first...). */
  hyper?: Record<string, number | string | boolean>;
}

/** The architecture found, and where each field came from (for `fprl import`'s summary). */
export interface InferredArch {
  config: ViTConfig;
  sources: Record<string, string>;
}

function hyperNumber(h: ArchHints['hyper'], names: string[]): number | undefined {
  for (const n of names) if (typeof h?.[n] === 'number') return h[n] as number;
  return undefined;
}
function hyperBool(h: ArchHints['hyper'], names: string[]): boolean | undefined {
  for (const n of names) if (typeof h?.[n] === 'boolean') return h[n] as boolean;
  return undefined;
}

/**
 * The Face Transformer config of a state dict (keys without prefix, PyTorch shapes). Sizes come
 * from the shapes; heads, norm order and (without a position embedding) the image size cannot,
 * and come from the hints: an explicit flag, then the checkpoint's hyper-parameters, then the
 * preset, then the layout's default (post-norm for the report's module, pre-norm otherwise).
 */
export function inferArch(
  shapes: Map<string, number[]>,
  layout: TorchLayout,
  hints: ArchHints,
  where: string,
): InferredArch {
  const sources: Record<string, string> = {};
  const need = (key: string, rank: number): number[] => {
    const s = shapes.get(key);
    if (!s) throw new FprlError(`missing tensor '${key}', needed to read the architecture`, { where });
    if (s.length !== rank) {
      throw new FprlError(`tensor '${key}' has shape ${shapeText(s)}, expected rank ${rank}`, { where });
    }
    return s;
  };
  const enc = layout === 'report' ? 'transformer.layers.' : layout === 'reference' ? 'layers.' : 'blocks.';
  const patchKey = layout === 'timm' ? 'patch_embed.proj.weight' : 'conv.weight';
  const [dim, inChannels, patchSize, patchW] = need(patchKey, 4);
  if (inChannels !== 3 || patchW !== patchSize) {
    throw new FprlError(
      `tensor '${patchKey}' has shape ${shapeText([dim, inChannels, patchSize, patchW])}: expected [D,3,P,P] (RGB, square patches)`,
      { where },
    );
  }
  sources.dim = sources.patchSize = patchKey;
  let depth = 0;
  for (const k of shapes.keys()) {
    const m = k.startsWith(enc) ? /^(\d+)\./.exec(k.slice(enc.length)) : null;
    if (m) depth = Math.max(depth, Number(m[1]) + 1);
  }
  sources.depth = `${enc}N`;
  const fc1 = layout === 'timm' ? `${enc}0.mlp.fc1.weight` : `${enc}0.linear1.weight`;
  const mlpDim = need(fc1, 2)[0];
  sources.mlpDim = fc1;
  const preset = hints.preset === undefined ? undefined : resolveViTConfig(hints.preset);
  if (hints.preset !== undefined) sources.preset = hints.preset;

  let numClasses = hints.numClasses ?? preset?.numClasses ?? 11;
  sources.numClasses =
    hints.numClasses !== undefined ? '--classes' : preset ? `preset ${hints.preset}` : 'default';
  if (layout !== 'timm') {
    numClasses = need('deconv.weight', 4)[1];
    sources.numClasses = 'deconv.weight';
  }

  const posKey = layout === 'timm' ? 'pos_embed' : layout === 'reference' ? 'pos' : 'pos_embedding';
  const pos = shapes.get(posKey);
  const posEmbedding = layout === 'timm' ? true : pos !== undefined;
  sources.posEmbedding = pos ? posKey : 'no position embedding in the file';
  let imageSize: number | undefined;
  if (hints.imageSize !== undefined) {
    imageSize = hints.imageSize;
    sources.imageSize = '--image-size';
  } else if (pos && layout !== 'timm') {
    const g = Math.round(Math.sqrt(pos[1]));
    if (g * g !== pos[1]) {
      throw new FprlError(`tensor '${posKey}' ${shapeText(pos)} holds ${pos[1]} tokens, not a square grid`, {
        where,
      });
    }
    imageSize = g * patchSize;
    sources.imageSize = posKey;
  } else if (hyperNumber(hints.hyper, ['image_size', 'imageSize', 'img_size']) !== undefined) {
    imageSize = hyperNumber(hints.hyper, ['image_size', 'imageSize', 'img_size']);
    sources.imageSize = 'hyper_parameters';
  } else if (preset) {
    imageSize = preset.imageSize;
    sources.imageSize = `preset ${hints.preset}`;
  } else if (layout === 'timm' && pos) {
    const g = Math.round(Math.sqrt(pos[1] - 1));
    imageSize = (g * g === pos[1] - 1 ? g : Math.round(Math.sqrt(pos[1]))) * patchSize;
    sources.imageSize = `${posKey} (no resampling)`;
  }
  if (imageSize === undefined) {
    throw new FprlError('the image size cannot be read from this file (it has no position embedding)', {
      where,
      hint: 'pass --image-size N or --preset NAME',
    });
  }

  let heads = hints.heads;
  sources.heads = '--heads';
  if (heads === undefined) {
    heads = hyperNumber(hints.hyper, ['heads', 'num_heads', 'nhead', 'n_heads']);
    sources.heads = 'hyper_parameters';
  }
  if (heads === undefined && preset && preset.dim === dim) {
    heads = preset.heads;
    sources.heads = `preset ${hints.preset}`;
  }
  if (heads === undefined && layout === 'timm' && dim % 64 === 0) {
    heads = dim / 64;
    sources.heads = 'timm convention: 64 channels per head';
  }
  if (heads === undefined) {
    throw new FprlError(`the number of attention heads cannot be read from tensor shapes (dim ${dim})`, {
      where,
      hint: `pass --heads N (a divisor of ${dim}), or --preset NAME of the same dim (${Object.entries(PRESETS)
        .map(([n, p]) => `${n}: dim ${p.dim}, heads ${p.heads}`)
        .join('; ')})`,
    });
  }

  let normFirst = hints.normFirst;
  sources.normFirst = '--norm';
  if (normFirst === undefined) {
    normFirst = hyperBool(hints.hyper, ['norm_first', 'normFirst']);
    sources.normFirst = 'hyper_parameters';
  }
  if (normFirst === undefined && preset) {
    normFirst = preset.normFirst;
    sources.normFirst = `preset ${hints.preset}`;
  }
  if (normFirst === undefined) {
    normFirst = layout !== 'report';
    sources.normFirst =
      layout === 'report'
        ? "default of the report's module (post-norm TransformerEncoderLayer)"
        : layout === 'timm'
          ? 'timm blocks are pre-norm'
          : 'default of torch_vit_bench.py (norm_first=True)';
  }
  if (layout === 'timm') {
    normFirst = true;
    sources.normFirst = 'timm blocks are pre-norm';
  }
  // The MLP activation and LayerNorm epsilon cannot be read from shapes: timm and Hugging Face ViTs
  // use exact GELU (and eps 1e-6 / 1e-12); PyTorch's TransformerEncoderLayer ReLU and 1e-5.
  const hyperAct = hints.hyper?.mlpActivation ?? hints.hyper?.activation;
  const mlpActivation =
    hyperAct === 'gelu' || hyperAct === 'relu' ? hyperAct : layout === 'timm' ? 'gelu' : 'relu';
  sources.mlpActivation =
    hyperAct === mlpActivation
      ? 'hyper_parameters'
      : layout === 'timm'
        ? 'timm blocks use GELU'
        : 'PyTorch TransformerEncoderLayer default';
  let layerNormEps =
    hints.layerNormEps ?? hyperNumber(hints.hyper, ['layerNormEps', 'layer_norm_eps', 'norm_eps']);
  sources.layerNormEps = hints.layerNormEps !== undefined ? 'layout default' : 'hyper_parameters';
  if (layerNormEps === undefined) {
    layerNormEps = layout === 'timm' ? 1e-6 : 1e-5;
    sources.layerNormEps = layout === 'timm' ? 'timm default' : 'PyTorch LayerNorm default';
  }
  const config = resolveViTConfig({
    mlpActivation,
    layerNormEps,
    imageSize,
    patchSize,
    dim,
    depth,
    heads,
    mlpDim,
    numClasses,
    posEmbedding,
    normFirst,
    dropout: preset?.dropout ?? 0.1,
    embDropout: preset?.embDropout ?? 0,
  });
  return { config, sources };
}

/**
 * Resample a position embedding grid [gs*gs, D] to [gt*gt, D] with PyTorch's bicubic interpolation
 * (`F.interpolate(mode='bicubic', align_corners=False)`, a = -0.75, edges clamped), as timm's
 * `resample_abs_pos_embed` does when a backbone is used at another resolution.
 */
export function resamplePosEmbed(src: Float32Array, gs: number, gt: number, dim: number): Float32Array {
  if (gs === gt) return src.slice();
  const A = -0.75;
  const cubic = (x: number): number[] => {
    const w1 = (t: number) => ((A + 2) * t - (A + 3)) * t * t + 1;
    const w2 = (t: number) => ((A * t - 5 * A) * t + 8 * A) * t - 4 * A;
    return [w2(x + 1), w1(x), w1(1 - x), w2(2 - x)];
  };
  const scale = gs / gt;
  const taps = (o: number): { idx: number[]; w: number[] } => {
    const real = (o + 0.5) * scale - 0.5;
    const i0 = Math.floor(real);
    const w = cubic(real - i0);
    const idx = [-1, 0, 1, 2].map((d) => Math.min(gs - 1, Math.max(0, i0 + d)));
    return { idx, w };
  };
  const out = new Float32Array(gt * gt * dim);
  for (let y = 0; y < gt; y++) {
    const ty = taps(y);
    for (let x = 0; x < gt; x++) {
      const tx = taps(x);
      for (let c = 0; c < dim; c++) {
        let v = 0;
        for (let j = 0; j < 4; j++) {
          let row = 0;
          for (let i = 0; i < 4; i++) row += tx.w[i] * src[(ty.idx[j] * gs + tx.idx[i]) * dim + c];
          v += ty.w[j] * row;
        }
        out[(y * gt + x) * dim + c] = v;
      }
    }
  }
  return out;
}

/** Check a tensor's shape against a rule's; the error names the tensor and both shapes. */
export function checkShape(rule: TorchRule, shape: readonly number[], where: string): void {
  if (shape.length !== rule.torchShape.length || shape.some((d, i) => d !== rule.torchShape[i])) {
    throw new FprlError(
      `tensor '${rule.torch}' has shape ${shapeText(shape)} but the model needs ${shapeText(rule.torchShape)} (fprl variable '${rule.fprl}')`,
      {
        where,
        hint: 'the layers of this file do not all share one architecture: check that it is the model you meant',
      },
    );
  }
  if (numel(shape) !== numel(rule.core)) throw new Error('torch-layout: rule with inconsistent shapes');
}

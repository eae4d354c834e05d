/**
 * The hybrid Face Transformer's configuration (agents/vit/hybrid.ts): a conv stem, the ViT
 * encoder at 1/stride of the input, and a skip decoder back to full resolution. One record, named
 * presets, one validator, and the forward FLOPs of a config computed from it.
 */
import { FprlError } from '../../src/core/errors.js';
import { NUM_CLASSES } from '../../src/core/classes.js';
import { FLAG_FIELDS, RATE_FIELDS, SIZE_FIELDS, checkFields } from './config.js';

export interface HybridConfig {
  /** Input side in pixels; must be a multiple of the stride (16 for the presets). */
  imageSize: number;
  /** Output channels of the stem's conv3x3 stride-2 stages (each halves the resolution). */
  stemChannels: readonly number[];
  /** Patch side of the embedding on the last stem map (kernel = stride; a power of 2). */
  patchSize: number;
  /** Token width D. */
  dim: number;
  /** Encoder blocks (agents/vit/block.ts). */
  depth: number;
  /** Attention heads; `dim` must be divisible by it. */
  heads: number;
  /** Hidden width of each block's MLP. */
  mlpDim: number;
  /**
   * Output channels of the decoder's stages, coarse to fine: each upsamples x2, concatenates the
   * stem map of that resolution (the input image at full resolution), then conv3x3 + LN + ReLU.
   * Exactly one stage per halving: `stemChannels.length + log2(patchSize)` stages.
   */
  decoderChannels: readonly number[];
  /** Output classes C. */
  numClasses: number;
  /** Dropout inside the encoder blocks. */
  dropout: number;
  /** Dropout on the token embeddings. */
  embDropout: number;
  /** Learned positional embedding `[T, D]`. */
  posEmbedding: boolean;
  /** Pre-norm encoder blocks (false: post-norm). */
  normFirst: boolean;
  /**
   * How fresh weights are drawn (not part of the architecture: a checkpoint loads whatever it
   * says). `pytorch` (the presets' default since 2026-12-03): the defaults of the PyTorch twin's
   * modules (src/bench/torch_hybrid_bench.py): every conv and linear layer uniform in
   * +-1/sqrt(fan_in), biases too, the attention's fused input projection xavier-uniform with a
   * zero bias, positions zero. `vit`: the ViT presets' scheme (xavier-uniform linear layers, zero
   * biases, trunc-normal 0.02 positions and head), which the hybrid used until then: it learned
   * the left/right classes several times slower from scratch (docs/RESULTS.md section 11).
   */
  init: HybridInit;
}

/** The initialisation schemes of {@link HybridConfig.init}. */
export const HYBRID_INITS = ['pytorch', 'vit'] as const;
export type HybridInit = (typeof HYBRID_INITS)[number];

export type HybridPresetName = 'hybrid-128' | 'hybrid-256';

/** Fields that change the function a set of weights computes (everything but the dropout rates). */
export const HYBRID_ARCH_FIELDS = [
  'imageSize',
  'stemChannels',
  'patchSize',
  'dim',
  'depth',
  'heads',
  'mlpDim',
  'decoderChannels',
  'numClasses',
  'posEmbedding',
  'normFirst',
] as const satisfies readonly (keyof HybridConfig)[];

const LIST_FIELDS = ['stemChannels', 'decoderChannels'] as const;
const ALL_FIELDS: readonly string[] = [...SIZE_FIELDS, ...LIST_FIELDS, ...RATE_FIELDS, ...FLAG_FIELDS, 'init'];

const BASE = {
  stemChannels: Object.freeze([32, 64, 128]),
  patchSize: 2,
  dim: 192,
  depth: 6,
  heads: 3,
  mlpDim: 768,
  decoderChannels: Object.freeze([128, 64, 32, 16]),
  numClasses: NUM_CLASSES,
  dropout: 0.1,
  embDropout: 0,
  posEmbedding: true,
  normFirst: true,
  init: 'pytorch',
} as const;

/**
 * ViT-Hybrid / TransUNet-style: stem 3->32->64->128 (1/2, 1/4, 1/8), 2x2 patch embedding to
 * 1/16 tokens of dim 192, 6 pre-norm blocks (ViT-Ti widths), decoder 128, 64, 32, 16 back to full
 * resolution. The two presets differ only in the input side (and so in pos_embed's length).
 */
export const HYBRID_PRESETS: Readonly<Record<HybridPresetName, Readonly<HybridConfig>>> = Object.freeze({
  'hybrid-128': Object.freeze({ ...BASE, imageSize: 128 }),
  'hybrid-256': Object.freeze({ ...BASE, imageSize: 256 }),
});

const WHERE = 'hybrid config';

export function isHybridPreset(name: string): name is HybridPresetName {
  return Object.hasOwn(HYBRID_PRESETS, name);
}

/** Total downsampling from the image to the token grid: 2^stages * patchSize. */
export function hybridStride(c: Pick<HybridConfig, 'stemChannels' | 'patchSize'>): number {
  return 2 ** c.stemChannels.length * c.patchSize;
}

/** Tokens per image: (imageSize / stride)^2. */
export function hybridTokens(c: HybridConfig): number {
  return (c.imageSize / hybridStride(c)) ** 2;
}

/**
 * Resolve a preset name, or `{ preset, ...overrides }`, into a full validated config (a preset is
 * required: the stem and decoder lists are long to spell out; override them when needed).
 */
export function resolveHybridConfig(
  presetOrPartial: string | (Partial<HybridConfig> & { preset?: string }),
): HybridConfig {
  const { preset, ...fields } =
    typeof presetOrPartial === 'string' ? { preset: presetOrPartial } : (presetOrPartial ?? {});
  const names = Object.keys(HYBRID_PRESETS).join(', ');
  if (preset === undefined || !isHybridPreset(preset)) {
    throw new FprlError(`unknown hybrid preset ${JSON.stringify(preset)}`, {
      where: `${WHERE}.preset`,
      hint: `choose one of: ${names}`,
    });
  }
  for (const key of Object.keys(fields)) {
    if (!ALL_FIELDS.includes(key)) {
      throw new FprlError(`unknown field '${key}'`, {
        where: `${WHERE}.${key}`,
        hint: `hybrid config fields are: preset, ${ALL_FIELDS.join(', ')}`,
      });
    }
  }
  const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  return validateHybridConfig({ ...HYBRID_PRESETS[preset], ...defined } as HybridConfig);
}

/** Check a full config; throws an FprlError naming the first bad field. Returns a frozen copy. */
export function validateHybridConfig(config: HybridConfig, where = WHERE): HybridConfig {
  checkFields(config, where, { sizes: SIZE_FIELDS, lists: LIST_FIELDS, rates: RATE_FIELDS, flags: FLAG_FIELDS });
  // Absent in checkpoints written before the field existed: the scheme they were drawn with.
  const init = (config as Partial<HybridConfig>).init ?? 'vit';
  if (!HYBRID_INITS.includes(init)) {
    throw new FprlError(`init must be one of ${HYBRID_INITS.join(', ')}, got ${JSON.stringify(init)}`, {
      where: `${where}.init`,
      hint: "'pytorch' (the presets' default) or 'vit' (the scheme of results before 2026-12-03)",
    });
  }
  const p = config.patchSize;
  if ((p & (p - 1)) !== 0) {
    throw new FprlError(`patchSize ${p} is not a power of 2`, {
      where: `${where}.patchSize`,
      hint: 'the decoder upsamples x2 per stage: use 1, 2, 4, ...',
    });
  }
  const stages = config.stemChannels.length + Math.log2(p);
  if (config.decoderChannels.length !== stages) {
    throw new FprlError(
      `decoderChannels has ${config.decoderChannels.length} stages but the encoder downsamples ${stages} times`,
      {
        where: `${where}.decoderChannels`,
        hint: `give one decoder stage per halving: stemChannels.length + log2(patchSize) = ${stages}`,
      },
    );
  }
  const stride = hybridStride(config);
  if (config.imageSize % stride !== 0) {
    const lo = Math.max(stride, Math.floor(config.imageSize / stride) * stride);
    throw new FprlError(`imageSize ${config.imageSize} is not a multiple of ${stride}`, {
      where: `${where}.imageSize`,
      hint: `this model downsamples by ${stride}: it takes sizes ${stride}, ${2 * stride}, ... (e.g. ${lo} or ${lo + stride})`,
    });
  }
  if (config.dim % config.heads !== 0) {
    throw new FprlError(`dim ${config.dim} is not divisible by heads ${config.heads}`, {
      where: `${where}.heads`,
      hint: 'each head gets dim / heads channels: pick heads dividing dim',
    });
  }
  return Object.freeze({
    imageSize: config.imageSize,
    stemChannels: Object.freeze([...config.stemChannels]),
    patchSize: config.patchSize,
    dim: config.dim,
    depth: config.depth,
    heads: config.heads,
    mlpDim: config.mlpDim,
    decoderChannels: Object.freeze([...config.decoderChannels]),
    numClasses: config.numClasses,
    dropout: config.dropout,
    embDropout: config.embDropout,
    posEmbedding: config.posEmbedding,
    normFirst: config.normFirst,
    init,
  });
}

/** One decoder stage's geometry: output side, input channels (upsampled + skip) and output channels. */
export interface DecoderStage {
  /** Side of the stage's output map. */
  size: number;
  /** Channels of the upsampled map. */
  upChannels: number;
  /** Channels of the skip (a stem map, the image at full resolution, or 0). */
  skipChannels: number;
  outChannels: number;
  /** Index into [image, stem 0, stem 1, ...] of the skip, or -1 (none). */
  skip: number;
}

/**
 * The decoder's stages, coarse to fine. Stage j outputs at 1/2^(L-1-j) (L stages); its skip is
 * the stem map of that resolution (stem i is at 1/2^(i+1)), or the image at full resolution.
 */
export function decoderStages(c: HybridConfig): DecoderStage[] {
  const L = c.decoderChannels.length;
  const out: DecoderStage[] = [];
  let up = c.dim;
  for (let j = 0; j < L; j++) {
    const level = L - 1 - j; // the stage's output is at 1/2^level
    const skip = level <= c.stemChannels.length ? level : -1;
    const skipChannels = skip === -1 ? 0 : skip === 0 ? 3 : c.stemChannels[skip - 1];
    out.push({
      size: c.imageSize / 2 ** level,
      upChannels: up,
      skipChannels,
      outChannels: c.decoderChannels[j],
      skip,
    });
    up = c.decoderChannels[j];
  }
  return out;
}

/**
 * Forward FLOPs of one image: 2 per multiply-add of every convolution, dense layer and attention
 * product (QK^T and AV); norms, activations, softmax, upsampling and additions are not counted
 * (they are a few percent; the usual convention of fvcore / ptflops-style counts times 2).
 */
export function hybridFlops(c: HybridConfig): number {
  let macs = 0;
  let side = c.imageSize;
  let cin = 3;
  for (const cout of c.stemChannels) {
    side /= 2;
    macs += side * side * 9 * cin * cout;
    cin = cout;
  }
  const g = side / c.patchSize;
  const t = g * g;
  macs += t * c.patchSize * c.patchSize * cin * c.dim;
  macs += c.depth * encoderBlockMacs(t, c.dim, c.mlpDim);
  for (const s of decoderStages(c))
    macs += s.size * s.size * 9 * (s.upChannels + s.skipChannels) * s.outChannels;
  macs += c.imageSize * c.imageSize * c.decoderChannels[c.decoderChannels.length - 1] * c.numClasses;
  return 2 * macs;
}

/** Multiply-adds of one encoder block on t tokens of width d (qkv, scores, AV, out, MLP). */
export function encoderBlockMacs(t: number, d: number, m: number): number {
  return t * d * 3 * d + 2 * t * t * d + t * d * d + 2 * t * d * m;
}

/**
 * The hybrid Face Transformer: a ViT for dense prediction (ViT-Hybrid / TransUNet style), kind
 * `hybrid` in the policy-network registry. images [B,S,S,3] -> logits [B,S,S,C]:
 *
 *   stem     conv3x3 s2 + LN + ReLU per stage (3->32->64->128: maps at 1/2, 1/4, 1/8, kept)
 *   embed    patch_embed (= conv k=s=P on the last stem map) -> tokens [B*T, D] at 1/16 (+ pos_embed)
 *   encoder  depth x encoder block (agents/vit/block.ts), final LayerNorm  -> pooled [B, D]
 *   decoder  per stage: nearest x2, concat the stem map of that resolution (the image at full
 *            resolution), conv3x3 + LN + ReLU (128, 64, 32, 16 channels)
 *   head     1x1 conv (a dense layer on the pixels) -> 11 classes
 *
 * The norms are channel LayerNorms (stateless: no running statistics, so save/load, data-parallel
 * replicas and evaluation need nothing beyond the variables). Convolutions followed by a norm have
 * no bias (the norm's beta is one). Same parameter count and layers as
 * src/bench/torch_hybrid_bench.py. Variables and checkpoint: agents/vit/README.md.
 */
import * as tf from '@tensorflow/tfjs';
import { FprlError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import type { PolicyArchitecture, PolicyNet } from '../../src/core/types.js';
import { encoderBlock, type BlockShape, type BlockWeights } from './block.js';
import {
  checkVariables,
  decodeCheckpoint,
  readCheckpoint,
  writeCheckpoint,
  type CheckpointKind,
} from './checkpoint.js';
import { channelNorm, conv3x3, upsample2x } from './conv-ops.js';
import {
  HYBRID_ARCH_FIELDS,
  decoderStages,
  hybridFlops,
  hybridStride,
  hybridTokens,
  validateHybridConfig,
  type HybridConfig,
} from './hybrid-config.js';
import { dense, dropout, layerNorm, patchify, tokenMeans } from './ops.js';
import { blockParamNames, createVariables, type Init, type NamedVariable, type ParamSpec } from './params.js';
import type { ApplyOptions, PredictOptions } from './model.js';

/** The kind in the registry and in model.json's `userDefinedMetadata.kind`. */
export const HYBRID_KIND = 'hybrid';

export const HYBRID_CHECKPOINT: CheckpointKind<HybridConfig> = {
  kind: HYBRID_KIND,
  validate: validateHybridConfig,
};

/** Every variable of a hybrid config, in a fixed order (of `trainableVariables` and weights.bin). */
export function hybridParamSpecs(c: HybridConfig): ParamSpec[] {
  const { patchSize: P, dim: D, mlpDim: M, numClasses: C } = c;
  const zeros: Init = { kind: 'zeros' };
  const ones: Init = { kind: 'ones' };
  const conv = (name: string, k: number, cin: number, cout: number): ParamSpec[] => [
    { name: `${name}/conv/kernel`, shape: [k, k, cin, cout], init: { kind: 'conv', fanIn: k * k * cin } },
    { name: `${name}/norm/gamma`, shape: [cout], init: ones },
    { name: `${name}/norm/beta`, shape: [cout], init: zeros },
  ];
  const specs: ParamSpec[] = [];
  let cin = 3;
  c.stemChannels.forEach((cout, i) => {
    specs.push(...conv(`stem/${i}`, 3, cin, cout));
    cin = cout;
  });
  specs.push(
    { name: 'patch_embed/kernel', shape: [P, P, cin, D], init: { kind: 'conv', fanIn: P * P * cin } },
    { name: 'patch_embed/bias', shape: [D], init: zeros },
  );
  if (c.posEmbedding)
    specs.push({ name: 'pos_embed', shape: [hybridTokens(c), D], init: { kind: 'trunc', std: 0.02 } });
  for (let i = 0; i < c.depth; i++) {
    const n = blockParamNames(i);
    specs.push(
      { name: n.norm1Gamma, shape: [D], init: ones },
      { name: n.norm1Beta, shape: [D], init: zeros },
      { name: n.qkvKernel, shape: [D, 3 * D], init: { kind: 'xavier', fanIn: D, fanOut: 3 * D } },
      { name: n.qkvBias, shape: [3 * D], init: zeros },
      { name: n.outKernel, shape: [D, D], init: { kind: 'xavier', fanIn: D, fanOut: D } },
      { name: n.outBias, shape: [D], init: zeros },
      { name: n.norm2Gamma, shape: [D], init: ones },
      { name: n.norm2Beta, shape: [D], init: zeros },
      { name: n.fc1Kernel, shape: [D, M], init: { kind: 'xavier', fanIn: D, fanOut: M } },
      { name: n.fc1Bias, shape: [M], init: zeros },
      { name: n.fc2Kernel, shape: [M, D], init: { kind: 'xavier', fanIn: M, fanOut: D } },
      { name: n.fc2Bias, shape: [D], init: zeros },
    );
  }
  specs.push({ name: 'norm/gamma', shape: [D], init: ones }, { name: 'norm/beta', shape: [D], init: zeros });
  decoderStages(c).forEach((s, j) =>
    specs.push(...conv(`decoder/${j}`, 3, s.upChannels + s.skipChannels, s.outChannels)),
  );
  const last = c.decoderChannels[c.decoderChannels.length - 1];
  specs.push(
    // Small head init (as the ViT's): a near-uniform initial policy for REINFORCE's exploration.
    { name: 'head/kernel', shape: [last, C], init: { kind: 'trunc', std: 0.02 } },
    { name: 'head/bias', shape: [C], init: zeros },
  );
  return specs;
}

function describeArch(c: HybridConfig): string {
  return HYBRID_ARCH_FIELDS.map((k) => `${k}=${String(c[k])}`).join(' ');
}

export class HybridFaceTransformer implements PolicyNet {
  /** The validated, frozen config. */
  readonly config: HybridConfig;
  private readonly specs: ParamSpec[];
  private readonly named: NamedVariable[];
  private readonly vars: Map<string, tf.Variable>;
  private disposed = false;

  /**
   * Fresh weights drawn from `rng` (each variable from `rng.fork('hybrid/init').fork(name)`), or
   * `weights` by documented name (the caller keeps ownership of those tensors).
   */
  constructor(config: HybridConfig, rng: Rng, weights?: tf.NamedTensorMap) {
    this.config = validateHybridConfig(config);
    this.specs = hybridParamSpecs(this.config);
    this.named = weights
      ? createVariables(this.specs, { values: (spec) => weights[spec.name] })
      : createVariables(this.specs, { rng: rng.fork('hybrid/init') });
    this.vars = new Map(this.named.map((n) => [n.name, n.variable]));
  }

  /** `hybrid` with its config: a replica is `new HybridFaceTransformer(config, rng)`. */
  architecture(): PolicyArchitecture {
    return { kind: HYBRID_KIND, config: this.config };
  }

  get numClasses(): number {
    return this.config.numClasses;
  }

  /** All variables, in the documented order. */
  get trainableVariables(): tf.Variable[] {
    return this.named.map((n) => n.variable);
  }

  /** Variables with their documented checkpoint names. */
  get namedVariables(): readonly NamedVariable[] {
    return this.named;
  }

  /** Number of scalar parameters (equal to torch_hybrid_bench.py's for the same config). */
  countParams(): number {
    return this.named.reduce((n, v) => n + v.variable.size, 0);
  }

  /** Forward FLOPs per image (see hybridFlops). */
  flopsPerImage(): number {
    return hybridFlops(this.config);
  }

  private v<T extends tf.Tensor>(name: string): T {
    return this.vars.get(name) as unknown as T;
  }

  private blockWeights(i: number): BlockWeights {
    const n = blockParamNames(i);
    return Object.fromEntries(
      Object.entries(n).map(([k, name]) => [k, this.v(name)]),
    ) as unknown as BlockWeights;
  }

  /** conv3x3 (no bias) + channel LayerNorm + ReLU. */
  private convNormRelu(x: tf.Tensor4D, name: string, stride: 1 | 2): tf.Tensor4D {
    const y = conv3x3(x, this.v(`${name}/conv/kernel`), stride);
    return tf.relu(channelNorm(y, this.v(`${name}/norm/gamma`), this.v(`${name}/norm/beta`)));
  }

  private checkImages(images: tf.Tensor, where: string): void {
    if (this.disposed) throw new FprlError('the model was disposed', { where });
    const s = this.config.imageSize;
    const [, h, w, c] = images.shape;
    if (images.rank !== 4 || h !== s || w !== s || c !== 3) {
      const stride = hybridStride(this.config);
      throw new FprlError(`images have shape [${images.shape}], expected [B,${s},${s},3]`, {
        where,
        hint:
          `resize the data to ${s}x${s} (dataset size option) or build the model with imageSize ${h}` +
          (h % stride === 0 ? '' : ` rounded to a multiple of ${stride} (the model's stride)`),
      });
    }
  }

  /**
   * images [B,S,S,3] -> logits [B,S,S,C] and pooled [B,D] (mean of the encoder's final tokens
   * after its final LayerNorm, for value heads). Dropout only when `training` (seeded by `rng`).
   */
  apply(images: tf.Tensor4D, opts: ApplyOptions = {}): { logits: tf.Tensor4D; pooled: tf.Tensor2D } {
    this.checkImages(images, 'HybridFaceTransformer.apply');
    const c = this.config;
    const training = opts.training ?? false;
    if (training && !opts.rng && (c.dropout > 0 || c.embDropout > 0)) {
      throw new FprlError('training with dropout needs an rng to seed it', {
        where: 'HybridFaceTransformer.apply',
        hint: 'pass { training: true, rng } with an Rng from src/rng.ts',
      });
    }
    const rng = training ? opts.rng : undefined;
    const b = images.shape[0];
    const t = hybridTokens(c);
    const g = Math.sqrt(t);
    const p = c.patchSize;
    const d = c.dim;
    const shape: BlockShape = {
      batch: b,
      tokens: t,
      heads: c.heads,
      normFirst: c.normFirst,
      dropout: c.dropout,
    };
    return tf.tidy(() => {
      // Stem: maps [image, 1/2, 1/4, ...], kept for the decoder's skips.
      const maps: tf.Tensor4D[] = [images];
      c.stemChannels.forEach((_, i) => maps.push(this.convNormRelu(maps[maps.length - 1], `stem/${i}`, 2)));
      const last = maps[maps.length - 1];
      const cs = last.shape[3];
      const embed = tf.reshape(this.v('patch_embed/kernel'), [p * p * cs, d]) as tf.Tensor2D;
      let x = dense(patchify(last, p), embed, this.v('patch_embed/bias')); // [B*T, D]
      if (c.posEmbedding) x = tf.reshape(tf.add(tf.reshape(x, [b, t, d]), this.v('pos_embed')), [b * t, d]);
      x = dropout(x, c.embDropout, rng);
      for (let i = 0; i < c.depth; i++) x = encoderBlock(x, this.blockWeights(i), shape, rng);
      x = layerNorm(x, this.v('norm/gamma'), this.v('norm/beta'));
      const pooled = tokenMeans(x, b);
      // Decoder: x2 per stage, fusing the stem map of each resolution.
      let y = tf.reshape(x, [b, g, g, d]) as tf.Tensor4D;
      decoderStages(c).forEach((s, j) => {
        const up = upsample2x(y);
        const fused = s.skip === -1 ? up : tf.concat([up, maps[s.skip]], 3);
        y = this.convNormRelu(fused, `decoder/${j}`, 1);
      });
      const [, side, , cd] = y.shape;
      const pixels = dense(tf.reshape(y, [b * side * side, cd]), this.v('head/kernel'), this.v('head/bias'));
      const logits = tf.reshape(pixels, [b, side, side, c.numClasses]) as tf.Tensor4D;
      return { logits, pooled };
    });
  }

  /** Greedy labels: Int32Array [B*S*S] (row-major, image-major); no tensors left behind. */
  predict(images: tf.Tensor4D, opts: PredictOptions = {}): Int32Array {
    this.checkImages(images, 'HybridFaceTransformer.predict');
    const [b, s] = images.shape;
    const chunk = Math.max(1, Math.min(b, opts.batchSize ?? b));
    const out = new Int32Array(b * s * s);
    for (let start = 0; start < b; start += chunk) {
      const n = Math.min(chunk, b - start);
      const labels = tf.tidy(() => {
        const part = n === b ? images : tf.slice(images, [start, 0, 0, 0], [n, s, s, 3]);
        return tf.argMax(this.apply(part).logits, -1);
      });
      out.set(labels.dataSync() as Int32Array, start * s * s);
      labels.dispose();
    }
    return out;
  }

  /** Write model.json (kind `hybrid`) + weights.bin to `dir`, atomically. */
  async save(dir: string): Promise<void> {
    if (this.disposed) throw new FprlError('the model was disposed', { where: 'HybridFaceTransformer.save' });
    const named = this.named.map((n) => ({ name: n.name, tensor: n.variable as tf.Tensor }));
    const by = `face-parsing-rl HybridFaceTransformer (tfjs ${tf.version.tfjs})`;
    await writeCheckpoint(dir, this.config, named, by, HYBRID_KIND);
  }

  /** A model with the config and weights saved in `dir`. */
  static async load(dir: string): Promise<HybridFaceTransformer> {
    const raw = await readCheckpoint(dir, HYBRID_CHECKPOINT);
    checkVariables(
      raw,
      hybridParamSpecs(raw.config),
      'the checkpoint does not match its own config; save it again',
    );
    const weights = decodeCheckpoint(raw);
    try {
      return new HybridFaceTransformer(raw.config, new Rng(0, 'unused'), weights);
    } finally {
      tf.dispose(weights);
    }
  }

  /** Replace the weights with those in `dir` (same architecture; dropout may differ). Nothing changes if it fails. */
  async loadWeightsFrom(dir: string): Promise<void> {
    if (this.disposed)
      throw new FprlError('the model was disposed', { where: 'HybridFaceTransformer.loadWeightsFrom' });
    const raw = await readCheckpoint(dir, HYBRID_CHECKPOINT);
    const hint =
      `checkpoint: ${describeArch(raw.config)}; this model: ${describeArch(this.config)}. ` +
      'Use HybridFaceTransformer.load(dir) to get the checkpoint with its own config.';
    checkVariables(raw, this.specs, hint);
    for (const k of HYBRID_ARCH_FIELDS) {
      if (String(raw.config[k]) !== String(this.config[k])) {
        throw new FprlError(
          `checkpoint has ${k}=${String(raw.config[k])} but this model has ${k}=${String(this.config[k])}`,
          {
            where: `${raw.dir}: model.json userDefinedMetadata.config.${k}`,
            hint,
          },
        );
      }
    }
    const weights = decodeCheckpoint(raw);
    try {
      for (const { name, variable } of this.named) variable.assign(weights[name]);
    } finally {
      tf.dispose(weights);
    }
  }

  /** Free the variables. The model cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const n of this.named) n.variable.dispose();
  }
}

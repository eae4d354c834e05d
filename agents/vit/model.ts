/**
 * The Face Transformer: a ViT segmenter mapping images [B,S,S,3] to per-pixel logits [B,S,S,C].
 *
 *   patches [B*T, P*P*3] --patch_embed (= conv k=s=P)--> tokens [B*T, D] (+ pos_embed, dropout)
 *   --depth x encoder block--> final LayerNorm --proj (= 1x1 conv on the patch grid)-->
 *   --head (= transposed conv k=s=P)--> logits [B,S,S,C]
 *
 * Tokens stay 2-D [B*T, D] throughout, so every dense layer is one plain matMul; the conv layers
 * are reshape/transpose + matMul (identical numbers, and differentiable on wasm). Parameter count
 * equals PyTorch's for the same architecture (../shared/peer/torch_vit_bench.py).
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
  type RawCheckpoint,
} from './checkpoint.js';
import { ARCH_FIELDS, LAYER_NORM_EPS, numTokens, validateViTConfig, type ViTConfig } from './config.js';
import { dense, dropout, layerNormEps, patchify, tokenMeans, unpatchify } from './ops.js';
import {
  blockParamNames,
  createVariables,
  paramSpecs,
  type NamedVariable,
  type ParamSpec,
} from './params.js';

export interface ApplyOptions {
  /** Turn dropout on (needs `rng`). Default false. */
  training?: boolean;
  /** Seeds the dropout masks; each call draws from it, so the same state gives the same masks. */
  rng?: Rng;
}

export interface PredictOptions {
  /** Images per forward pass (bounds memory for large batches). Default: all at once. */
  batchSize?: number;
}

/** A field's value, the default written out for the optional ones (relu, 1e-5). */
function archValue(c: ViTConfig, k: (typeof ARCH_FIELDS)[number]): string {
  if (k === 'mlpActivation') return c.mlpActivation ?? 'relu';
  if (k === 'layerNormEps') return String(c.layerNormEps ?? LAYER_NORM_EPS);
  return String(c[k]);
}

function describeArch(c: ViTConfig): string {
  return ARCH_FIELDS.map((k) => `${k}=${archValue(c, k)}`).join(' ');
}

export class FaceTransformer implements PolicyNet {
  /** The validated, frozen config. */
  readonly config: ViTConfig;
  private readonly specs: ParamSpec[];
  private readonly named: NamedVariable[];
  private readonly vars: Map<string, tf.Variable>;
  private disposed = false;

  /** `vit` with its config: a replica is `new FaceTransformer(config, rng)`. */
  architecture(): PolicyArchitecture {
    return { kind: 'vit', config: this.config };
  }

  /**
   * Build a model with fresh weights drawn from `rng` (each variable from its own forked stream).
   * `weights`, by documented name, gives initial values instead (e.g. from a checkpoint; `rng`
   * then goes unused); the caller keeps ownership of those tensors.
   */

  constructor(config: ViTConfig, rng: Rng, weights?: tf.NamedTensorMap) {
    this.config = validateViTConfig(config);
    this.specs = paramSpecs(this.config);
    this.named = weights
      ? createVariables(this.specs, { values: (spec) => weights[spec.name] })
      : createVariables(this.specs, { rng: rng.fork('vit/init') });
    this.vars = new Map(this.named.map((n) => [n.name, n.variable]));
  }

  get numClasses(): number {
    return this.config.numClasses;
  }

  /** All variables, in the documented order (see agents/vit/README.md). */
  get trainableVariables(): tf.Variable[] {
    return this.named.map((n) => n.variable);
  }

  /** Variables with their documented checkpoint names. */
  get namedVariables(): readonly NamedVariable[] {
    return this.named;
  }

  /** Number of scalar parameters (equal to PyTorch's for the same architecture). */
  countParams(): number {
    return this.named.reduce((n, v) => n + v.variable.size, 0);
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

  private checkImages(images: tf.Tensor, where: string): void {
    if (this.disposed) throw new FprlError('the model was disposed', { where });
    const s = this.config.imageSize;
    const [, h, w, c] = images.shape;
    if (images.rank !== 4 || h !== s || w !== s || c !== 3) {
      throw new FprlError(`images have shape [${images.shape}], expected [B,${s},${s},3]`, {
        where,
        hint: `resize the data to ${s}x${s} (dataset size option) or choose a config with imageSize ${h}`,
      });
    }
  }

  /**
   * images [B,S,S,3] -> logits [B,S,S,C] and pooled [B,D] (mean of the final tokens after the
   * final LayerNorm, for value heads). Dropout only when `training` (seeded by `rng`).
   */
  apply(images: tf.Tensor4D, opts: ApplyOptions = {}): { logits: tf.Tensor4D; pooled: tf.Tensor2D } {
    this.checkImages(images, 'FaceTransformer.apply');
    const c = this.config;
    const training = opts.training ?? false;
    if (training && !opts.rng && (c.dropout > 0 || c.embDropout > 0)) {
      throw new FprlError('training with dropout needs an rng to seed it', {
        where: 'FaceTransformer.apply',
        hint: 'pass { training: true, rng } with an Rng from src/core/rng.ts',
      });
    }
    const rng = training ? opts.rng : undefined;
    const b = images.shape[0];
    const t = numTokens(c);
    const g = c.imageSize / c.patchSize;
    const p = c.patchSize;
    const d = c.dim;
    const shape: BlockShape = {
      batch: b,
      tokens: t,
      heads: c.heads,
      normFirst: c.normFirst,
      dropout: c.dropout,
      mlpActivation: c.mlpActivation,
      layerNormEps: c.layerNormEps,
    };
    return tf.tidy(() => {
      const patchKernel = tf.reshape(this.v('patch_embed/kernel'), [p * p * 3, d]) as tf.Tensor2D;
      // Plain matMul, not dense(): the fused op's gradient always computes d(images) too.
      const patches = tf.matMul(patchify(images, p), patchKernel);
      let x = tf.add<tf.Tensor2D>(patches, this.v('patch_embed/bias')); // [B*T, D]
      if (c.posEmbedding) {
        x = tf.reshape(tf.add(tf.reshape(x, [b, t, d]), this.v('pos_embed')), [b * t, d]);
      }
      x = dropout(x, c.embDropout, rng);
      for (let i = 0; i < c.depth; i++) x = encoderBlock(x, this.blockWeights(i), shape, rng);
      x = layerNormEps(c.layerNormEps)(x, this.v('norm/gamma'), this.v('norm/beta'));
      const pooled = tokenMeans(x, b);
      // The 1x1 conv on the [g,g,D] grid is a dense layer on its tokens.
      x = dense(x, this.v('proj/kernel'), this.v('proj/bias'));
      const headKernel = tf.reshape(this.v('head/kernel'), [d, p * p * c.numClasses]) as tf.Tensor2D;
      const pixels = unpatchify(tf.matMul(x, headKernel), b, g, p); // [B,S,S,C]
      const logits = tf.add<tf.Tensor4D>(pixels, this.v('head/bias'));
      return { logits, pooled };
    });
  }

  /**
   * Greedy labels: argmax over classes per pixel, images [B,S,S,3] -> Int32Array [B*S*S]
   * (row-major, image-major). No dropout, no gradient bookkeeping, no tensors left behind.
   */
  predict(images: tf.Tensor4D, opts: PredictOptions = {}): Int32Array {
    this.checkImages(images, 'FaceTransformer.predict');
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

  /** Write model.json + weights.bin to `dir` (atomically; see agents/vit/README.md for the layout). */
  async save(dir: string): Promise<void> {
    if (this.disposed) throw new FprlError('the model was disposed', { where: 'FaceTransformer.save' });
    const named = this.named.map((n) => ({ name: n.name, tensor: n.variable as tf.Tensor }));
    await writeCheckpoint(
      dir,
      this.config,
      named,
      `face-parsing-rl FaceTransformer (tfjs ${tf.version.tfjs})`,
    );
  }

  /** A model with the config and weights saved in `dir`. */
  static async load(dir: string): Promise<FaceTransformer> {
    const raw = await readCheckpoint(dir);
    checkVariables(
      raw,
      paramSpecs(raw.config),
      'the checkpoint does not match its own config; save it again',
    );
    const weights = decodeCheckpoint(raw);
    try {
      return new FaceTransformer(raw.config, new Rng(0, 'unused'), weights);
    } finally {
      tf.dispose(weights);
    }
  }

  /**
   * Replace this model's weights with those saved in `dir` (e.g. to fine-tune a CE model with RL).
   * The architecture must match; dropout rates may differ. Nothing changes if it fails.
   */
  async loadWeightsFrom(dir: string): Promise<void> {
    if (this.disposed)
      throw new FprlError('the model was disposed', { where: 'FaceTransformer.loadWeightsFrom' });
    const raw = await readCheckpoint(dir);
    this.checkCompatible(raw);
    const weights = decodeCheckpoint(raw);
    try {
      for (const { name, variable } of this.named) variable.assign(weights[name]);
    } finally {
      tf.dispose(weights);
    }
  }

  private checkCompatible(raw: RawCheckpoint): void {
    const hint =
      `checkpoint: ${describeArch(raw.config)}; this model: ${describeArch(this.config)}. ` +
      'Use FaceTransformer.load(dir) to get the checkpoint with its own config, or build this model with it.';
    checkVariables(raw, this.specs, hint);
    // Same shapes can still compute a different function (heads, normFirst).
    for (const k of ARCH_FIELDS) {
      if (raw.config[k] !== this.config[k]) {
        throw new FprlError(
          `checkpoint has ${k}=${archValue(raw.config, k)} but this model has ${k}=${archValue(this.config, k)}`,
          {
            where: `${raw.dir}: model.json userDefinedMetadata.config.${k}`,
            hint,
          },
        );
      }
    }
  }

  /** Free the variables. The model cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const n of this.named) n.variable.dispose();
  }
}

/**
 * What the Face Transformers (the ViT, agents/vit/vit-net.ts, and the hybrid, hybrid-net.ts)
 * share: a table of named variables made from the network's specs (each variable from its own
 * forked stream) or from given weights, greedy prediction in chunks, the checkpoint's content
 * (`checkpointTensors`, and `loadWeights` with its architecture checks), and disposal. A network
 * adds its config, its variable table and `apply`. Nothing here touches files, so the browser
 * page runs these classes too; the files are ./persist.ts's (save, loadWeightsFrom, load).
 */
import * as tf from '@tensorflow/tfjs';
import { FprlError } from '../../src/core/errors.js';
import type { Rng } from '../../src/core/rng.js';
import type { PolicyArchitecture, PolicyNet } from '../../src/core/types.js';
import type { BlockWeights } from './block.js';
import { checkVariables, decodeCheckpoint, type CheckpointKind, type RawCheckpoint } from './checkpoint-format.js';
import { blockParamNames, createVariables, type NamedVariable, type ParamSpec } from './params.js';

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

/** What sets a network kind apart in the shared code. */
export interface NetKind<C> {
  /** The class name, for messages. */
  label: string;
  /** Its checkpoint kind (model.json `userDefinedMetadata.kind`, the policy-network registry's kind). */
  checkpoint: CheckpointKind<C>;
  /** The config checked and frozen, or an error naming the field. */
  validate: (config: C) => C;
  /** Label of the stream the initial weights come from (forked per variable). */
  initStream: string;
  /** Config fields a checkpoint must share with the model (same shapes can compute another function). */
  archFields: readonly (keyof C & string)[];
  /** A field's value as compared and shown (default: `String(config[k])`; optional fields write their default). */
  archValue?: (config: C, k: keyof C & string) => string;
  /** What to do about images of another size `h` (the hint of the error). */
  sizeHint: (config: C, h: number) => string;
}

/** `k=v` for every architecture field (error hints). */
function describeArch<C>(kind: NetKind<C>, c: C): string {
  return kind.archFields.map((k) => `${k}=${valueOf(kind, c, k)}`).join(' ');
}

function valueOf<C>(kind: NetKind<C>, c: C, k: keyof C & string): string {
  return kind.archValue ? kind.archValue(c, k) : String(c[k]);
}

export abstract class NamedVariableNet<C extends { imageSize: number; numClasses: number; dropout: number; embDropout: number }>
  implements PolicyNet
{
  /** The validated, frozen config. */
  readonly config: C;
  protected readonly specs: ParamSpec[];
  protected readonly named: NamedVariable[];
  private readonly vars: Map<string, tf.Variable>;
  private disposed = false;

  /**
   * Fresh weights drawn from `rng.fork(kind.initStream)` (each variable from its own forked
   * stream), or `weights` by documented name (e.g. from a checkpoint; the caller keeps ownership).
   */
  protected constructor(
    private readonly kind: NetKind<C>,
    config: C,
    specsOf: (c: C) => ParamSpec[],
    rng: Rng,
    weights?: tf.NamedTensorMap,
  ) {
    this.config = kind.validate(config);
    this.specs = specsOf(this.config);
    this.named = weights
      ? createVariables(this.specs, { values: (spec) => weights[spec.name] })
      : createVariables(this.specs, { rng: rng.fork(kind.initStream) });
    this.vars = new Map(this.named.map((n) => [n.name, n.variable]));
  }

  /** The kind and config: a replica is built from them through the policy-network registry. */
  architecture(): PolicyArchitecture {
    return { kind: this.kind.checkpoint.kind, config: this.config };
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

  /** `head/bias` [C]: added to every pixel's logits in both network kinds. */
  classBias(): tf.Variable | undefined {
    const b = this.vars.get('head/bias');
    return b && b.shape.length === 1 && b.shape[0] === this.numClasses ? b : undefined;
  }

  /** Number of scalar parameters (equal to PyTorch's for the same architecture). */
  countParams(): number {
    return this.named.reduce((n, v) => n + v.variable.size, 0);
  }

  abstract apply(images: tf.Tensor4D, opts?: ApplyOptions): { logits: tf.Tensor4D; pooled: tf.Tensor2D };

  protected v<T extends tf.Tensor>(name: string): T {
    return this.vars.get(name) as unknown as T;
  }

  /** The encoder block's weights of layer `i` (agents/vit/block.ts). */
  protected blockWeights(i: number): BlockWeights {
    const n = blockParamNames(i);
    return Object.fromEntries(
      Object.entries(n).map(([k, name]) => [k, this.v(name)]),
    ) as unknown as BlockWeights;
  }

  /** Refuse images of another size, and a model already disposed. */
  protected checkImages(images: tf.Tensor, where: string): void {
    if (this.disposed) throw new FprlError('the model was disposed', { where });
    const s = this.config.imageSize;
    const [, h, w, c] = images.shape;
    if (images.rank !== 4 || h !== s || w !== s || c !== 3) {
      throw new FprlError(`images have shape [${images.shape}], expected [B,${s},${s},3]`, {
        where,
        hint: this.kind.sizeHint(this.config, h),
      });
    }
  }

  /** The dropout stream of a call: `rng` when training (required when dropout is on), else none. */
  protected dropoutStream(opts: ApplyOptions): Rng | undefined {
    const training = opts.training ?? false;
    if (training && !opts.rng && (this.config.dropout > 0 || this.config.embDropout > 0)) {
      throw new FprlError('training with dropout needs an rng to seed it', {
        where: `${this.kind.label}.apply`,
        hint: 'pass { training: true, rng } with an Rng from src/core/rng.ts',
      });
    }
    return training ? opts.rng : undefined;
  }

  /**
   * Greedy labels: argmax over classes per pixel, images [B,S,S,3] -> Int32Array [B*S*S]
   * (row-major, image-major). No dropout, no gradient bookkeeping, no tensors left behind.
   */
  predict(images: tf.Tensor4D, opts: PredictOptions = {}): Int32Array {
    this.checkImages(images, `${this.kind.label}.predict`);
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

  /** The kind of network this is (its label, checkpoint kind, architecture fields). */
  get netKind(): NetKind<C> {
    return this.kind;
  }

  /** The variables by documented name, for a checkpoint (the model keeps them). */
  checkpointTensors(where: string): { name: string; tensor: tf.Tensor }[] {
    if (this.disposed) throw new FprlError('the model was disposed', { where: `${this.kind.label}.${where}` });
    return this.named.map((n) => ({ name: n.name, tensor: n.variable as tf.Tensor }));
  }

  /**
   * Replace this model's weights with a read checkpoint's (e.g. to fine-tune a CE model with RL).
   * The architecture must match; dropout rates may differ. Nothing changes if it fails.
   */
  loadWeights(raw: RawCheckpoint<C>): void {
    if (this.disposed)
      throw new FprlError('the model was disposed', { where: `${this.kind.label}.loadWeightsFrom` });
    const kind = this.kind;
    const hint =
      `checkpoint: ${describeArch(kind, raw.config)}; this model: ${describeArch(kind, this.config)}. ` +
      `Use ${this.kind.label}.load(dir) to get the checkpoint with its own config, or build this model with it.`;
    checkVariables(raw, this.specs, hint);
    for (const k of kind.archFields) {
      const [theirs, ours] = [valueOf(kind, raw.config, k), valueOf(kind, this.config, k)];
      if (theirs !== ours) {
        throw new FprlError(
          `checkpoint has ${k}=${theirs} but this model has ${k}=${ours}`,
          { where: `${raw.dir}: model.json userDefinedMetadata.config.${k}`, hint },
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

/** The model of a read checkpoint, built by `make` from its own config and weights. */
export function netFromCheckpoint<C, N>(
  raw: RawCheckpoint<C>,
  specsOf: (c: C) => ParamSpec[],
  make: (config: C, weights: tf.NamedTensorMap) => N,
): N {
  checkVariables(raw, specsOf(raw.config), 'the checkpoint does not match its own config; save it again');
  const weights = decodeCheckpoint(raw);
  try {
    return make(raw.config, weights);
  } finally {
    tf.dispose(weights);
  }
}

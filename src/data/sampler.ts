/**
 * BatchSampler: seeded per-epoch shuffling, optional augmentation, batches as tensors, and
 * an exact save/restore point for checkpoints.
 *
 * Randomness is counter-based: the order of epoch e comes from the stream
 * `Rng(seed, 'sampler/order/<e>')` and the augmentation of the sample at position p of
 * epoch e from `Rng(seed, 'sampler/augment/<e>/<p>')`, where `seed` is drawn once from the
 * `rng` given to the constructor. The state is therefore just (seed, epoch, position), and
 * prefetching never changes which numbers a batch gets.
 *
 * Prefetch: after handing out a batch, the sampler starts loading the next one, one sample per
 * turn of the event loop, so file reads and sharp decoding (libuv threads) overlap with the
 * caller's model step. CPU-bound loading in JS (the synthetic renderer, ~0.4 ms per 64 px face,
 * ~10 ms at 256 px; augmentation) still runs on the main thread between the caller's awaits,
 * a sample at a time, so it delays a message the caller is waiting for by one sample at most.
 */
import * as tf from '@tensorflow/tfjs';
import { FprlError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { Batch, Dataset, Sample } from '../core/types.js';
import { type AugmentOptions, type ResolvedAugment, augmentSample, resolveAugment } from './augment.js';

export interface BatchSamplerOptions {
  batchSize: number;
  /** The sampler draws its seed from this stream once, at construction. */
  rng: Rng;
  /** Shuffle every epoch (training) or keep dataset order (evaluation). */
  shuffle: boolean;
  /** Augmentation options ({} = defaults), or false / undefined for none (evaluation). */
  augment?: AugmentOptions | false;
  /** Drop the last incomplete batch of each epoch. Default false. */
  dropLast?: boolean;
}

/** Everything needed to resume exactly: store it in checkpoints. */
export interface SamplerState {
  version: 1;
  seed: number;
  /** Epoch of the next batch. */
  epoch: number;
  /** Position in that epoch's order of the next batch's first sample. */
  position: number;
  /** Checked on restore: the dataset and batch size must be the same. */
  datasetLength: number;
  batchSize: number;
}

/** A batch as plain arrays (what {@link BatchSampler.next} turns into tensors). */
export interface ArrayBatch {
  ids: string[];
  /** [B,H,W,3] normalised */
  images: Float32Array;
  /** [B,H,W] class ids, 255 = ignore */
  labels: Int32Array;
  batchSize: number;
  height: number;
  width: number;
  /** Epoch these samples belong to. */
  epoch: number;
}

interface Pending {
  epoch: number;
  position: number;
  samples: Promise<Sample[]>;
}

export class BatchSampler {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  private readonly augment?: ResolvedAugment;
  private seed: number;
  private cursorEpoch = 0;
  private cursorPosition = 0;
  private order?: { epoch: number; indices: Int32Array };
  private pending?: Pending;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dataset: Dataset,
    opts: BatchSamplerOptions,
  ) {
    const { batchSize } = opts;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new FprlError(`batchSize must be a positive integer, got ${batchSize}`, {
        where: 'BatchSampler.batchSize',
      });
    }
    this.batchSize = batchSize;
    this.shuffle = opts.shuffle;
    this.dropLast = opts.dropLast ?? false;
    if (dataset.length === 0) {
      throw new FprlError('the dataset is empty', {
        where: dataset.name,
        hint: 'check the data folder or the count',
      });
    }
    if (this.dropLast && dataset.length < batchSize) {
      throw new FprlError(
        `the dataset has ${dataset.length} samples, fewer than one batch of ${batchSize} (dropLast)`,
        {
          where: dataset.name,
          hint: 'use a smaller batch size or dropLast: false',
        },
      );
    }
    this.augment = opts.augment ? resolveAugment(opts.augment) : undefined;
    this.seed = opts.rng.seed32();
  }

  /** Epoch of the next batch (0-based). */
  get epoch(): number {
    return this.cursorEpoch;
  }

  /** Position of the next batch within its epoch. */
  get position(): number {
    return this.cursorPosition;
  }

  get batchesPerEpoch(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  getState(): SamplerState {
    return {
      version: 1,
      seed: this.seed,
      epoch: this.cursorEpoch,
      position: this.cursorPosition,
      datasetLength: this.dataset.length,
      batchSize: this.batchSize,
    };
  }

  setState(s: SamplerState): void {
    if (s.datasetLength !== this.dataset.length || s.batchSize !== this.batchSize) {
      throw new FprlError(
        `sampler state is for ${s.datasetLength} samples in batches of ${s.batchSize}, but this sampler has ${this.dataset.length} in batches of ${this.batchSize}`,
        { where: this.dataset.name, hint: 'resume with the same dataset and batch size as the checkpoint' },
      );
    }
    if (!Number.isInteger(s.epoch) || s.epoch < 0 || !Number.isInteger(s.position) || s.position < 0) {
      throw new FprlError(`invalid sampler state (epoch ${s.epoch}, position ${s.position})`, {
        where: this.dataset.name,
      });
    }
    this.seed = s.seed;
    [this.cursorEpoch, this.cursorPosition] = this.normalise(s.epoch, s.position);
    this.pending = undefined;
  }

  /** The next batch as tensors `[B,H,W,3]` float32 and `[B,H,W]` int32, owned by the caller. */
  async next(): Promise<Batch> {
    const b = await this.nextArrays();
    return {
      ids: b.ids,
      images: tf.tensor4d(b.images, [b.batchSize, b.height, b.width, 3], 'float32'),
      labels: tf.tensor3d(b.labels, [b.batchSize, b.height, b.width], 'int32'),
    };
  }

  /** The next batch as plain arrays. Calls are served one at a time, in order. */
  nextArrays(): Promise<ArrayBatch> {
    const result = this.chain.then(() => this.take());
    this.chain = result.catch(() => undefined);
    return result;
  }

  private async take(): Promise<ArrayBatch> {
    const p =
      this.pending && this.pending.epoch === this.cursorEpoch && this.pending.position === this.cursorPosition
        ? this.pending
        : this.load(this.cursorEpoch, this.cursorPosition, false);
    this.pending = undefined;
    const samples = await p.samples;
    [this.cursorEpoch, this.cursorPosition] = this.normalise(p.epoch, p.position + samples.length);
    this.pending = this.load(this.cursorEpoch, this.cursorPosition, true);
    return this.assemble(samples, p.epoch);
  }

  /** Move to the next epoch when this one has no (complete, with dropLast) batch left. */
  private normalise(epoch: number, position: number): [number, number] {
    const n = this.dataset.length;
    if (position >= n || (this.dropLast && n - position < this.batchSize)) return [epoch + 1, 0];
    return [epoch, position];
  }

  private indicesOf(epoch: number): Int32Array {
    if (this.order?.epoch === epoch) return this.order.indices;
    const n = this.dataset.length;
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    if (this.shuffle) {
      const rng = new Rng(this.seed, `sampler/order/${epoch}`);
      for (let i = n - 1; i > 0; i--) {
        const j = rng.int(0, i + 1);
        const t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
      }
    }
    this.order = { epoch, indices: idx };
    return idx;
  }

  private load(epoch: number, position: number, deferred: boolean): Pending {
    const indices = this.indicesOf(epoch);
    const end = Math.min(indices.length, position + this.batchSize);
    const picks = Array.from(indices.subarray(position, end));
    const aug = this.augment;
    // Sample k of the batch, read and augmented.
    const load = (k: number): Promise<Sample> =>
      this.dataset
        .get(picks[k])
        .then((s) =>
          aug ? augmentSample(s, aug, new Rng(this.seed, `sampler/augment/${epoch}/${position + k}`)) : s,
        );
    const run = async (): Promise<Sample[]> => {
      if (!deferred) return Promise.all(picks.map((_, k) => load(k)));
      // A prefetch starts one sample per turn of the event loop, so the caller's messages (a
      // data-parallel worker's answer) are handled between samples: the whole batch in one turn
      // (a synthetic 256 px batch of 8: 60-90 ms of rendering) kept them waiting that long.
      // The gets are not awaited one by one, so file reads and decodes still overlap.
      const parts: Promise<Sample>[] = [];
      for (let k = 0; k < picks.length; k++) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        const part = load(k);
        // Handled here until Promise.all takes it: a sample failing while later ones are still
        // being started must not surface as an unhandled rejection (take() rethrows it).
        part.catch(() => undefined);
        parts.push(part);
      }
      return Promise.all(parts);
    };
    const samples = run();
    // A prefetch nobody awaits yet must not become an unhandled rejection; take() rethrows it.
    samples.catch(() => undefined);
    return { epoch, position, samples };
  }

  private assemble(samples: Sample[], epoch: number): ArrayBatch {
    const { height: H, width: W } = this.dataset;
    const B = samples.length;
    const images = new Float32Array(B * H * W * 3);
    const labels = new Int32Array(B * H * W);
    samples.forEach((s, b) => {
      if (s.height !== H || s.width !== W) {
        throw new FprlError(`sample ${s.id} is ${s.width}x${s.height}, the dataset says ${W}x${H}`, {
          where: this.dataset.name,
        });
      }
      images.set(s.image, b * H * W * 3);
      labels.set(s.label, b * H * W);
    });
    return { ids: samples.map((s) => s.id), images, labels, batchSize: B, height: H, width: W, epoch };
  }
}

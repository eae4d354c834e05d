/**
 * Small fakes for agent and trainer tests: an in-memory bandit env over fixed images and
 * label maps with a JS reward, so agents can be tested before (and independently of) the
 * real env, datasets and reward plugins.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset, Env, Observation, Sample, StepResult } from '../../src/core/types.js';
import type { RngState } from '../../src/core/rng.js';
import { Box, LabelMap } from '../../src/core/spaces.js';
import { Rng } from '../../src/core/rng.js';

export type ImageReward = (pred: Int32Array, target: Int32Array) => number;
export type PixelCredit = (
  pred: Int32Array,
  target: Int32Array,
  kind: 'pixel' | 'difference',
) => Float32Array;

export interface TinyEnvOptions {
  /** Per image [H*W*3] in [-1,1]. */
  images: Float32Array[];
  /** Per image [H*W] labels (255 = ignore). */
  targets: Int32Array[];
  height: number;
  width: number;
  batchSize: number;
  numClasses?: number;
  reward: ImageReward;
  pixelCredit?: PixelCredit;
  seed?: number;
  /** Draw images in order (0,1,2,...) instead of at random. */
  sequential?: boolean;
}

export class TinyEnv implements Env {
  readonly id = 'Tiny-v0';
  readonly observationSpace: Box;
  readonly actionSpace: LabelMap;
  readonly rewardRange = [0, 1] as const;
  private rng: Rng;
  private current: number[] = [];
  private images: tf.Tensor4D | undefined;
  private cursor = 0;
  steps = 0;

  constructor(readonly opts: TinyEnvOptions) {
    const { height: H, width: W, batchSize: B } = opts;
    this.observationSpace = new Box([B, H, W, 3], -1, 1);
    this.actionSpace = new LabelMap([B, H, W], opts.numClasses ?? 11);
    this.rng = new Rng(opts.seed ?? 0, 'tiny-env');
  }

  get P(): number {
    return this.opts.height * this.opts.width;
  }

  async reset(o: { seed?: number } = {}): Promise<{ observation: Observation; info: { ids: string[] } }> {
    if (o.seed !== undefined) {
      this.rng = new Rng(o.seed, 'tiny-env');
      this.cursor = 0;
    }
    const n = this.opts.images.length;
    this.current = Array.from({ length: this.opts.batchSize }, () =>
      this.opts.sequential ? this.cursor++ % n : this.rng.int(0, n),
    );
    this.images?.dispose();
    const { height: H, width: W } = this.opts;
    const data = new Float32Array(this.current.length * H * W * 3);
    this.current.forEach((i, b) => data.set(this.opts.images[i], b * H * W * 3));
    this.images = tf.tensor4d(data, [this.current.length, H, W, 3]);
    const ids = this.current.map((i) => `img${i}`);
    return { observation: { images: this.images, ids }, info: { ids } };
  }

  async step(action: Int32Array, o: { pixelCredit?: 'pixel' | 'difference' } = {}): Promise<StepResult> {
    this.steps++;
    const B = this.current.length;
    const P = this.P;
    const K = action.length / (B * P);
    const reward = new Float32Array(K * B);
    const pixelReward = o.pixelCredit ? new Float32Array(K * B * P) : undefined;
    for (let k = 0; k < K; k++) {
      for (let b = 0; b < B; b++) {
        const pred = action.subarray((k * B + b) * P, (k * B + b + 1) * P);
        const target = this.opts.targets[this.current[b]];
        reward[k * B + b] = this.opts.reward(pred, target);
        if (pixelReward && o.pixelCredit)
          pixelReward.set(this.opts.pixelCredit!(pred, target, o.pixelCredit), (k * B + b) * P);
      }
    }
    return {
      reward,
      pixelReward,
      components: { tiny: reward },
      terminated: true,
      truncated: false,
      info: { ids: this.current.map((i) => `img${i}`), samples: K },
    };
  }

  /** Sampler state, so the trainer can resume the data order exactly (StatefulEnv). */
  getState(): { rng: RngState; cursor: number } {
    return { rng: this.rng.getState(), cursor: this.cursor };
  }

  setState(s: unknown): void {
    const st = s as { rng: RngState; cursor: number };
    this.rng = Rng.fromState(st.rng);
    this.cursor = st.cursor;
  }

  optimalAction(): Int32Array {
    const P = this.P;
    const out = new Int32Array(this.current.length * P);
    this.current.forEach((i, b) => out.set(this.opts.targets[i], b * P));
    return out;
  }

  close(): void {
    this.images?.dispose();
    this.images = undefined;
  }
}

/** Fraction of non-ignored pixels labelled correctly. */
export function accuracy(pred: Int32Array, target: Int32Array): number {
  let n = 0;
  let ok = 0;
  for (let i = 0; i < target.length; i++) {
    if (target[i] === 255) continue;
    n++;
    if (pred[i] === target[i]) ok++;
  }
  return n ? ok / n : 0;
}

/** Macro F1 over the classes present in the prediction or the truth (ignore pixels skipped). */
export function macroF1(numClasses: number): ImageReward {
  return (pred, target) => {
    const tp = new Float64Array(numClasses);
    const np = new Float64Array(numClasses);
    const nt = new Float64Array(numClasses);
    for (let i = 0; i < target.length; i++) {
      if (target[i] === 255) continue;
      np[pred[i]]++;
      nt[target[i]]++;
      if (pred[i] === target[i]) tp[pred[i]]++;
    }
    let s = 0;
    let n = 0;
    for (let c = 0; c < numClasses; c++) {
      if (np[c] + nt[c] === 0) continue;
      s += (2 * tp[c]) / (np[c] + nt[c]);
      n++;
    }
    return n ? s / n : 0;
  };
}

/** Per-pixel correctness credit (1 right, 0 wrong, 0 on ignore pixels). */
export const correctness: PixelCredit = (pred, target) => {
  const out = new Float32Array(target.length);
  for (let i = 0; i < target.length; i++) out[i] = target[i] !== 255 && pred[i] === target[i] ? 1 : 0;
  return out;
};

/** Images of solid colours with labels that depend on the colour and position (learnable per pixel). */
export function colourWorld(
  n: number,
  H: number,
  W: number,
  seed = 0,
): { images: Float32Array[]; targets: Int32Array[] } {
  const rng = new Rng(seed, 'colour-world');
  const images: Float32Array[] = [];
  const targets: Int32Array[] = [];
  for (let i = 0; i < n; i++) {
    const img = new Float32Array(H * W * 3);
    const lab = new Int32Array(H * W);
    for (let p = 0; p < H * W; p++) {
      const cls = rng.int(0, 3);
      img[p * 3 + cls] = 1;
      img[p * 3 + ((cls + 1) % 3)] = rng.uniform(-0.2, 0.2);
      lab[p] = cls;
    }
    images.push(img);
    targets.push(lab);
  }
  return { images, targets };
}

/** A Dataset over in-memory images and labels (for evaluation tests). */
export class ArrayDataset implements Dataset {
  readonly name = 'array';
  readonly classNames: readonly string[];
  constructor(
    readonly images: Float32Array[],
    readonly labels: ArrayLike<number>[],
    readonly height: number,
    readonly width: number,
    numClasses = 11,
  ) {
    this.classNames = Array.from({ length: numClasses }, (_, i) => `c${i}`);
  }
  get length(): number {
    return this.images.length;
  }
  async get(i: number): Promise<Sample> {
    return {
      id: `s${i}`,
      image: this.images[i],
      label: Uint8Array.from(this.labels[i]),
      height: this.height,
      width: this.width,
    };
  }
}

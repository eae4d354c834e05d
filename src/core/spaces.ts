import type { Rng } from './rng.js';

/** A set of valid values with a shape, as in Gymnasium. */
export interface Space<T> {
  readonly shape: readonly number[];
  contains(x: T): boolean;
  sample(rng: Rng): T;
}

/** Float box `[...shape]` with bounds (observations: normalised images). */
export class Box implements Space<Float32Array> {
  constructor(
    readonly shape: readonly number[],
    readonly low: number,
    readonly high: number,
  ) {}

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  contains(x: Float32Array): boolean {
    if (x.length !== this.size) return false;
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      if (!(v >= this.low && v <= this.high)) return false;
    }
    return true;
  }

  sample(rng: Rng): Float32Array {
    const out = new Float32Array(this.size);
    for (let i = 0; i < out.length; i++) out[i] = rng.uniform(this.low, this.high);
    return out;
  }
}

/** Label maps `[B,H,W]` with integers in [0, numClasses). */
export class LabelMap implements Space<Int32Array> {
  constructor(
    readonly shape: readonly number[],
    readonly numClasses: number,
  ) {}

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  contains(x: Int32Array): boolean {
    if (x.length % this.size !== 0 || x.length === 0) return false;
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      if (v < 0 || v >= this.numClasses || !Number.isInteger(v)) return false;
    }
    return true;
  }

  sample(rng: Rng): Int32Array {
    const out = new Int32Array(this.size);
    for (let i = 0; i < out.length; i++) out[i] = rng.int(0, this.numClasses);
    return out;
  }
}

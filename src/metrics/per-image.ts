import { IGNORE_INDEX, NUM_CLASSES } from '../core/classes.js';
import { FprlError } from '../core/errors.js';
import { ConfusionMatrix } from './confusion.js';

/** Mean and spread of one per-image metric. `n` counts images where the metric is defined. */
export interface Spread {
  mean: number;
  /** Sample standard deviation (n - 1); NaN for n < 2. */
  std: number;
  min: number;
  max: number;
  n: number;
}

export const PER_IMAGE_METRICS = ['pixelAccuracy', 'meanF1', 'mIoU'] as const;
export type PerImageMetric = (typeof PER_IMAGE_METRICS)[number];

/**
 * Per-image statistics: each image is scored on its own (same conventions as the split-level
 * {@link Scores}: classes absent from both prediction and truth of THAT image are left out of its
 * means), then the mean and spread over images are reported. This answers "how uneven is the
 * model across faces", which the split-level numbers hide. An image with no defined value
 * (e.g. every pixel ignored) is left out of that metric's statistics.
 */
export class PerImageStats {
  private readonly values: Record<PerImageMetric, number[]> = { pixelAccuracy: [], meanF1: [], mIoU: [] };
  private readonly cm: ConfusionMatrix;

  constructor(numClasses: number = NUM_CLASSES, ignoreIndex: number = IGNORE_INDEX) {
    this.cm = new ConfusionMatrix(numClasses, ignoreIndex);
  }

  /** Images added so far. */
  get count(): number {
    return this.values.pixelAccuracy.length;
  }

  /** Score one image (`pred`, `target`: [H*W]). */
  add(pred: ArrayLike<number>, target: ArrayLike<number>): this {
    const s = this.cm.reset().add(pred, target).scores();
    this.values.pixelAccuracy.push(s.pixelAccuracy);
    this.values.meanF1.push(s.meanF1);
    this.values.mIoU.push(s.mIoU);
    return this;
  }

  /** Score every image of a batch laid end to end (`pred`, `target`: [N*pixelsPerImage]). */
  addBatch(
    pred: ArrayLike<number> & { subarray?: unknown },
    target: ArrayLike<number>,
    pixelsPerImage: number,
  ): this {
    if (pixelsPerImage <= 0 || pred.length % pixelsPerImage !== 0 || target.length !== pred.length) {
      throw new FprlError(
        `cannot split ${pred.length} predicted / ${target.length} target pixels into images of ${pixelsPerImage}`,
        { where: 'PerImageStats.addBatch', hint: 'pass flat [N*H*W] label maps and pixelsPerImage = H*W' },
      );
    }
    for (let start = 0; start < pred.length; start += pixelsPerImage) {
      this.add(slice(pred, start, pixelsPerImage), slice(target, start, pixelsPerImage));
    }
    return this;
  }

  /** The per-image values of one metric, in the order added (NaN where undefined). */
  list(metric: PerImageMetric): readonly number[] {
    return this.values[metric];
  }

  summary(): Record<PerImageMetric, Spread> {
    return {
      pixelAccuracy: spread(this.values.pixelAccuracy),
      meanF1: spread(this.values.meanF1),
      mIoU: spread(this.values.mIoU),
    };
  }
}

/** Mean, sample std, min and max of the non-NaN values. */
export function spread(xs: readonly number[]): Spread {
  let n = 0;
  let mean = 0;
  let m2 = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const x of xs) {
    if (Number.isNaN(x)) continue;
    // Welford: stable for many values near each other (scores cluster near their mean).
    n++;
    const d = x - mean;
    mean += d / n;
    m2 += d * (x - mean);
    if (x < min) min = x;
    if (x > max) max = x;
  }
  if (n === 0) return { mean: NaN, std: NaN, min: NaN, max: NaN, n };
  return { mean, std: n < 2 ? NaN : Math.sqrt(m2 / (n - 1)), min, max, n };
}

function slice(xs: ArrayLike<number>, start: number, len: number): ArrayLike<number> {
  const sub = (xs as { subarray?: (a: number, b: number) => ArrayLike<number> }).subarray;
  return sub ? sub.call(xs, start, start + len) : Array.prototype.slice.call(xs, start, start + len);
}

import { classCounts } from './class-counts.js';
import { overlap } from './overlap.js';

/** Scores of one class over a split. */
export interface ClassScores {
  /** TP / predicted pixels; NaN when the class was never predicted. */
  precision: number;
  /** TP / true pixels; NaN when the class never occurs in the truth. */
  recall: number;
  /** 2TP / (predicted + true), equal to Dice for hard labels; NaN when the class is absent from both. */
  f1: number;
  /** TP / (predicted + true - TP); NaN when the class is absent from both. */
  iou: number;
  /** True pixels of the class (ignored pixels excluded). */
  support: number;
}

/**
 * Split-level scores by the LaPa protocol, from one confusion matrix summed over the split.
 *
 * Conventions (the same everywhere in this project):
 * - A ratio whose denominator is 0 is NaN, never a made-up 0 or 1: a class never predicted has
 *   NaN precision; a class absent from the truth has NaN recall; a class absent from BOTH the
 *   prediction and the truth has NaN F1 and IoU. A class in the truth but never predicted has
 *   F1 = IoU = 0 (a real miss).
 * - Means skip NaN entries (NaN-excluded means): a class absent from both is left out of
 *   `meanF1` and `mIoU` rather than counted as 0 or 1. `absent` lists those classes.
 *   A mean over no classes at all is NaN. In JSON, NaN is written as null.
 */
export interface Scores {
  /** Correct pixels / counted pixels (ignored pixels excluded). */
  pixelAccuracy: number;
  /** Mean F1 over the foreground classes 1..C-1 (background excluded, as in the LaPa tables). */
  meanF1: number;
  /** Mean Dice over the foreground classes: the same number as `meanF1` for hard labels. */
  meanDice: number;
  /** Mean IoU over all C classes, background included. */
  mIoU: number;
  /** Counted pixels. */
  pixels: number;
  /** Names of classes absent from both prediction and truth (excluded from the means). */
  absent: string[];
  perClass: Record<string, ClassScores>;
}

/** Per-class and mean scores from confusion counts `[C*C]` (row = truth, column = prediction). */
export function scoresFromCounts(
  counts: ArrayLike<number>,
  C: number,
  classNames: readonly string[],
): Scores {
  const { tp, predicted, truth: support } = classCounts(counts, C);
  // Integer sums: exact in any order.
  let correct = 0;
  let total = 0;
  for (let c = 0; c < C; c++) {
    correct += tp[c];
    total += support[c];
  }
  const perClass: Record<string, ClassScores> = {};
  const f1 = new Float64Array(C);
  const iou = new Float64Array(C);
  const absent: string[] = [];
  for (let c = 0; c < C; c++) {
    // 0/0 = NaN for a class absent from both: left out of the means.
    f1[c] = overlap('f1', tp[c], predicted[c], support[c]);
    iou[c] = overlap('iou', tp[c], predicted[c], support[c]);
    if (predicted[c] + support[c] === 0) absent.push(classNames[c]);
    perClass[classNames[c]] = {
      precision: ratio(tp[c], predicted[c]),
      recall: ratio(tp[c], support[c]),
      f1: f1[c],
      iou: iou[c],
      support: support[c],
    };
  }
  const meanF1 = nanMean(f1.subarray(1));
  return {
    pixelAccuracy: ratio(correct, total),
    meanF1,
    meanDice: meanF1,
    mIoU: nanMean(iou),
    pixels: total,
    absent,
    perClass,
  };
}

/** a / b, or NaN when b is 0 (an undefined score, not a zero). */
export function ratio(a: number, b: number): number {
  return b === 0 ? NaN : a / b;
}

/** Mean of the non-NaN entries; NaN when there are none. */
export function nanMean(xs: ArrayLike<number>): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    if (!Number.isNaN(x)) {
      sum += x;
      n++;
    }
  }
  return n === 0 ? NaN : sum / n;
}

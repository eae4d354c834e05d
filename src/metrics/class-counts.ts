import { countConfusion } from './count.js';

/** Per-class counts: true positives, predicted pixels, true pixels (float64, exact integers). */
export interface ClassCounts {
  tp: Float64Array;
  predicted: Float64Array;
  truth: Float64Array;
}

/** The per-class counts of a confusion matrix `counts[t*C + p]` (row = truth, column = prediction). */
export function classCounts(counts: ArrayLike<number>, C: number): ClassCounts {
  const tp = new Float64Array(C);
  const predicted = new Float64Array(C);
  const truth = new Float64Array(C);
  for (let t = 0; t < C; t++) {
    for (let p = 0; p < C; p++) {
      const m = counts[t * C + p];
      truth[t] += m;
      predicted[p] += m;
    }
    tp[t] = counts[t * C + t];
  }
  return { tp, predicted, truth };
}

/**
 * Count one image (`pred`, `target`: [H*W]) into per-class counts, skipping targets equal to
 * `ignore`; a bad label throws naming `where` (e.g. the reward plugin).
 */
export function countClasses(
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  C: number,
  ignore: number,
  where: string,
): ClassCounts {
  const M = new Float64Array(C * C);
  countConfusion(pred, target, C, ignore, M, where);
  return classCounts(M, C);
}

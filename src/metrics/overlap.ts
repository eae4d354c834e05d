/**
 * The per-class overlap scores from counts, the one copy of this arithmetic: split-level metrics
 * (scores.ts) and the per-image rewards (rewards/average.ts) both call it, so a reward and a metric
 * of the same labelling are the same float64 operations in the same order.
 *
 * F1 (= Dice for hard labels) = (2TP + s) / (P + G + s); IoU = (TP + s) / (P + G - TP + s), with
 * P predicted and G true pixels of the class and `smooth` s (Dice smoothing of the rewards; 0 in
 * the metrics). With s = 0 and P + G = 0 the result is NaN (0/0): callers decide what an absent
 * class scores.
 */
export type Overlap = 'f1' | 'iou';

export function overlap(kind: Overlap, tp: number, predicted: number, truth: number, smooth = 0): number {
  return kind === 'f1'
    ? (2 * tp + smooth) / (predicted + truth + smooth)
    : (tp + smooth) / (predicted + truth - tp + smooth);
}

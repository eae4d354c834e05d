import { overlap, type ClassCounts, type Overlap } from '../src/metrics/index.js';
import { emptyScore, type Absent, type Average } from './options.js';

/** How an image-level reward turns per-class counts into one number (see options.ts). */
export interface AverageOptions {
  kind: Overlap;
  average: Average;
  absent: Absent;
  smooth: number;
}

/** The image-level score from per-class counts with the averaging conventions of options.ts. */
export function averageScore(counts: ClassCounts, classes: readonly number[], o: AverageOptions): number {
  const { tp, predicted, truth } = counts;
  if (o.average === 'micro') {
    let TP = 0;
    let P = 0;
    let G = 0;
    for (const c of classes) {
      TP += tp[c];
      P += predicted[c];
      G += truth[c];
    }
    return P + G === 0 ? emptyScore(o.absent) : overlap(o.kind, TP, P, G, o.smooth);
  }
  if (o.average === 'weighted') {
    let sum = 0;
    let W = 0;
    let P = 0;
    for (const c of classes) {
      P += predicted[c];
      if (truth[c] === 0) continue;
      sum += truth[c] * overlap(o.kind, tp[c], predicted[c], truth[c], o.smooth);
      W += truth[c];
    }
    // No true pixel of any scored class: perfect if none was predicted either, else a miss.
    if (W === 0) return P === 0 ? emptyScore(o.absent) : 0;
    return sum / W;
  }
  let sum = 0;
  let n = 0;
  for (const c of classes) {
    if (predicted[c] + truth[c] === 0) {
      if (o.absent === 'skip') continue;
      sum += o.absent === 'one' ? 1 : 0;
    } else {
      sum += overlap(o.kind, tp[c], predicted[c], truth[c], o.smooth);
    }
    n++;
  }
  return n === 0 ? emptyScore(o.absent) : sum / n;
}

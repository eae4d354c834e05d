import { FprlError } from '../src/errors.js';
import { emptyScore, type Absent, type Average } from './options.js';
import { nativeAddon } from '../src/native/index.js';

/** Per-class counts of one image: true positives, predicted pixels, true pixels. */
export interface ClassCounts {
  tp: Float64Array;
  predicted: Float64Array;
  truth: Float64Array;
}

/** Count one image (`pred`, `target`: [H*W]); pixels whose target is `ignore` are skipped. */
export function countClasses(
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  C: number,
  ignore: number,
  plugin: string,
): ClassCounts {
  const tp = new Float64Array(C);
  const predicted = new Float64Array(C);
  const truth = new Float64Array(C);
  const addon = pred instanceof Int32Array && target instanceof Int32Array ? nativeAddon() : undefined;
  if (addon) {
    // The confusion matrix natively, then the same counts (integers: exact either way).
    const M = new Float64Array(C * C);
    const bad = addon.confusion(pred as Int32Array, target as Int32Array, C, ignore, M);
    if (bad >= 0) throw badLabel(bad, pred[bad], target[bad], C, ignore, plugin);
    for (let p = 0; p < C; p++)
      for (let t = 0; t < C; t++) {
        const m = M[p * C + t];
        predicted[p] += m;
        truth[t] += m;
        if (p === t) tp[t] += m;
      }
    return { tp, predicted, truth };
  }
  for (let i = 0; i < pred.length; i++) {
    const t = target[i];
    if (t === ignore) continue;
    const p = pred[i];
    if (p >>> 0 >= C || t >>> 0 >= C) throw badLabel(i, p, t, C, ignore, plugin);
    predicted[p]++;
    truth[t]++;
    if (p === t) tp[t]++;
  }
  return { tp, predicted, truth };
}

function badLabel(i: number, p: number, t: number, C: number, ignore: number, plugin: string): FprlError {
  return new FprlError(`pixel ${i} has prediction ${p} and target ${t}; labels must be in [0, ${C})`, {
    where: `reward plugin '${plugin}'`,
    hint: `targets may also be the ignore index ${ignore}`,
  });
}

/** Which overlap score: F1/Dice = (2TP + s) / (P + G + s); IoU = (TP + s) / (P + G - TP + s). */
export type Overlap = 'f1' | 'iou';

export function overlap(kind: Overlap, tp: number, p: number, g: number, smooth: number): number {
  return kind === 'f1' ? (2 * tp + smooth) / (p + g + smooth) : (tp + smooth) / (p + g - tp + smooth);
}

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

/**
 * Difference credit of one image: for each pixel, score(pred with that pixel set to its true
 * label) - score(pred). Correct and ignored pixels get 0. Closed form from the counts: moving
 * one pixel from predicted class a to its true class b only changes predicted[a] -= 1,
 * predicted[b] += 1 and tp[b] += 1, so the new score depends on (a, b) alone. Every pair of
 * classes that occurs is scored once from the counts (O(classes)) and looked up per pixel:
 * O(pixels + C^3), with C = 11 negligible next to the pixels.
 */
export function differenceCredit(
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  counts: ClassCounts,
  C: number,
  ignore: number,
  score: (counts: ClassCounts) => number,
): Float32Array {
  const base = score(counts);
  const { tp, predicted, truth } = counts;
  const table = new Float64Array(C * C).fill(NaN);
  const fill = (a: number, b: number): number => {
    predicted[a]--;
    predicted[b]++;
    tp[b]++;
    const d = (table[a * C + b] = score(counts) - base);
    predicted[a]++;
    predicted[b]--;
    tp[b]--;
    return d;
  };
  // Every pair that can occur up front (class a predicted, class b true somewhere), so the pixel
  // loop below only looks up; a pair the counts did not foresee is still scored when met.
  for (let a = 0; a < C; a++)
    for (let b = 0; b < C; b++) if (b !== a && predicted[a] > 0 && truth[b] > 0) fill(a, b);
  const out = new Float32Array(pred.length);
  let from = 0;
  const addon = pred instanceof Int32Array && target instanceof Int32Array ? nativeAddon() : undefined;
  if (addon) {
    // The same lookups natively; it stops at a pair the table lacks, which JS scores, and resumes.
    for (;;) {
      const at = addon.pairCredit(pred as Int32Array, target as Int32Array, C, ignore, table, out, from);
      if (at < 0) return out;
      const a = pred[at];
      const b = target[at];
      if (a >>> 0 >= C || b >>> 0 >= C) break; // not a class: the JS loop below does what it always did
      out[at] = fill(a, b);
      from = at + 1;
    }
  }
  for (let i = from; i < pred.length; i++) {
    const b = target[i];
    const a = pred[i];
    if (b === ignore || a === b) continue;
    const d = table[a * C + b];
    out[i] = d === d ? d : fill(a, b);
  }
  return out;
}

/** Dense correctness credit: 1 where the pixel is right, 0 where wrong or ignored. */
export function correctnessCredit(
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  ignore: number,
): Float32Array {
  const out = new Float32Array(pred.length);
  for (let i = 0; i < pred.length; i++) out[i] = target[i] !== ignore && pred[i] === target[i] ? 1 : 0;
  return out;
}

import type { ClassCounts } from '../src/metrics/index.js';
import { nativeAddon } from '../src/native/addon.js';

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

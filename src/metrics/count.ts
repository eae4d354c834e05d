import { FprlError } from '../core/errors.js';
import { nativeAddon } from '../native/addon.js';

/**
 * The one pixel counter of the project: adds the confusion counts of `pred` against `target`
 * (same length, any number of images laid end to end) into `counts[t * C + p]` (row = true class,
 * column = predicted class) and returns the number of pixels counted. Pixels whose target is
 * `ignore` are skipped. Split-level metrics (ConfusionMatrix) and the per-image rewards both
 * count here, so a reward and a metric never disagree about which pixel went where.
 *
 * With the native addon and Int32 label maps the loop runs in src/native/bandit.cc; otherwise in
 * JS ({@link countConfusionJs}, the reference). Counts are integers, exact in float64 up to 2^53,
 * so both give the same numbers bit for bit (test/native/bandit.test.ts).
 *
 * A label outside [0, C) (or a fraction) throws an FprlError naming the first bad pixel, with
 * `where` as its place; `counts` is unchanged then.
 */
export function countConfusion(
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  C: number,
  ignore: number,
  counts: Float64Array,
  where: string,
): number {
  const n = pred.length;
  if (target.length !== n) {
    throw new FprlError(`prediction has ${n} pixels but target has ${target.length}`, {
      where,
      hint: 'pass label maps of the same images, flattened row-major',
    });
  }
  const addon = pred instanceof Int32Array && target instanceof Int32Array ? nativeAddon() : undefined;
  const cells = scratchFor(C);
  const bad = addon
    ? addon.confusion(pred as Int32Array, target as Int32Array, C, ignore, cells)
    : countConfusionJs(pred, target, C, ignore, cells);
  if (bad >= 0) {
    cells.fill(0);
    throw badLabel(bad, pred, target, C, ignore, where);
  }
  let counted = 0;
  for (let k = 0; k < cells.length; k++) {
    counts[k] += cells[k];
    counted += cells[k];
    cells[k] = 0;
  }
  return counted;
}

/**
 * The JS twin of the native `confusion`: adds into `out[t*C + p]` (a zeroed [C*C] scratch) and
 * returns the first pixel with a label outside [0, C), or -1. The hot path of evaluation
 * (>= 100M pixels/s, see bench.ts): counts into a uint32 scratch with one unsigned range check
 * per value, then folds into float64.
 */
export function countConfusionJs(
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  C: number,
  ignore: number,
  out: Float64Array,
): number {
  const n = pred.length;
  const scratch = uint32ScratchFor(C);
  let bad = -1;
  // Chunks keep each uint32 scratch cell far below 2^32.
  for (let start = 0; start < n && bad < 0; start += CHUNK) {
    const end = Math.min(n, start + CHUNK);
    for (let i = start; i < end; i++) {
      const t = target[i];
      if (t === ignore) continue;
      const p = pred[i];
      // `>>> 0` makes negatives huge, so one compare per value rejects both ends;
      // `!==` catches fractions.
      if (t >>> 0 >= C || p >>> 0 >= C || (t | 0) !== t || (p | 0) !== p) {
        bad = i;
        break;
      }
      scratch[t * C + p]++;
    }
    if (bad >= 0) break;
    for (let k = 0; k < scratch.length; k++) {
      out[k] += scratch[k];
      scratch[k] = 0;
    }
  }
  if (bad >= 0) scratch.fill(0);
  return bad;
}

function badLabel(
  i: number,
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  C: number,
  ignore: number,
  where: string,
): FprlError {
  const which = target[i] >>> 0 >= C || (target[i] | 0) !== target[i] ? 'target' : 'prediction';
  const value = which === 'target' ? target[i] : pred[i];
  return new FprlError(`${which} pixel ${i} has label ${value}, outside [0, ${C})`, {
    where,
    hint:
      which === 'target'
        ? `targets hold classes 0..${C - 1} or the ignore index ${ignore}`
        : `predictions hold classes 0..${C - 1} (never the ignore index)`,
  });
}

const CHUNK = 1 << 24;
const scratches = new Map<number, Float64Array>();
const uint32Scratches = new Map<number, Uint32Array>();

/** One reusable zeroed scratch per class count (JS is single-threaded: no sharing hazard). */
function scratchFor(C: number): Float64Array {
  let s = scratches.get(C);
  if (!s) scratches.set(C, (s = new Float64Array(C * C)));
  return s;
}

function uint32ScratchFor(C: number): Uint32Array {
  let s = uint32Scratches.get(C);
  if (!s) uint32Scratches.set(C, (s = new Uint32Array(C * C)));
  return s;
}

import { CLASS_NAMES, IGNORE_INDEX, NUM_CLASSES } from '../classes.js';
import { FprlError } from '../errors.js';
import { scoresFromCounts, type Scores } from './scores.js';

/**
 * A confusion matrix over a whole split: `counts[t * C + p]` is the number of pixels of
 * true class `t` labelled `p`. Pixels whose target is `ignoreIndex` are skipped. Counts are
 * float64 so a split of any size (> 2^32 pixels) is counted exactly (up to 2^53).
 *
 * Per-class scores come from this ONE matrix summed over the split (the LaPa protocol),
 * never from a mean of per-image scores; see {@link PerImageStats} for the latter.
 */
export class ConfusionMatrix {
  /** [C*C] row = true class, column = predicted class. */
  readonly counts: Float64Array;
  /** Pixels counted so far (ignored pixels excluded). */
  total = 0;
  readonly classNames: readonly string[];

  constructor(
    readonly numClasses: number = NUM_CLASSES,
    readonly ignoreIndex: number = IGNORE_INDEX,
    classNames?: readonly string[],
  ) {
    if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 255) {
      throw new FprlError(`numClasses must be an integer in [1, 255], got ${numClasses}`, {
        where: 'ConfusionMatrix',
      });
    }
    this.counts = new Float64Array(numClasses * numClasses);
    this.classNames =
      classNames ??
      (numClasses === NUM_CLASSES ? CLASS_NAMES : Array.from({ length: numClasses }, (_, i) => `class_${i}`));
    if (this.classNames.length !== numClasses) {
      throw new FprlError(`got ${this.classNames.length} class names for ${numClasses} classes`, {
        where: 'ConfusionMatrix',
      });
    }
  }

  /**
   * Count `pred` against `target` (same length; any number of images laid end to end).
   * `pred` must hold classes in [0, C); `target` classes in [0, C) or `ignoreIndex`.
   * Throws an FprlError naming the first bad position and value; the matrix is unchanged then.
   *
   * The loop is the hot path of evaluation (>= 100M pixels/s, see bench.ts): it counts into
   * a uint32 scratch with one unsigned range check per pixel, then folds into float64.
   */
  add(pred: ArrayLike<number>, target: ArrayLike<number>): this {
    const n = pred.length;
    if (target.length !== n) {
      throw new FprlError(`prediction has ${n} pixels but target has ${target.length}`, {
        where: 'ConfusionMatrix.add',
        hint: 'pass label maps of the same images, flattened row-major',
      });
    }
    const C = this.numClasses;
    const ignore = this.ignoreIndex;
    const scratch = scratchFor(C);
    let counted = 0;
    let bad = -1;
    // Chunks keep each uint32 scratch cell far below 2^32.
    for (let start = 0; start < n; start += CHUNK) {
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
        counted++;
      }
      if (bad >= 0) break;
    }
    if (bad >= 0) {
      scratch.fill(0);
      const which = target[bad] >>> 0 >= C || (target[bad] | 0) !== target[bad] ? 'target' : 'prediction';
      const value = which === 'target' ? target[bad] : pred[bad];
      throw new FprlError(`${which} pixel ${bad} has label ${value}, outside [0, ${C})`, {
        where: 'ConfusionMatrix.add',
        hint:
          which === 'target'
            ? `targets hold classes 0..${C - 1} or the ignore index ${ignore}`
            : `predictions hold classes 0..${C - 1} (never the ignore index)`,
      });
    }
    const counts = this.counts;
    for (let k = 0; k < scratch.length; k++) {
      counts[k] += scratch[k];
      scratch[k] = 0;
    }
    this.total += counted;
    return this;
  }

  /** Add another matrix's counts (e.g. from another worker or shard). */
  merge(other: ConfusionMatrix): this {
    if (other.numClasses !== this.numClasses) {
      throw new FprlError(
        `cannot merge a ${other.numClasses}-class matrix into a ${this.numClasses}-class one`,
        {
          where: 'ConfusionMatrix.merge',
        },
      );
    }
    for (let k = 0; k < this.counts.length; k++) this.counts[k] += other.counts[k];
    this.total += other.total;
    return this;
  }

  reset(): this {
    this.counts.fill(0);
    this.total = 0;
    return this;
  }

  /** count of (true `t`, predicted `p`) pixels */
  at(t: number, p: number): number {
    return this.counts[t * this.numClasses + p];
  }

  /** Split-level scores with the LaPa conventions documented in scores.ts. */
  scores(): Scores {
    return scoresFromCounts(this.counts, this.numClasses, this.classNames);
  }
}

const CHUNK = 1 << 24;
const scratches = new Map<number, Uint32Array>();

/** One reusable zeroed scratch per class count (JS is single-threaded: no sharing hazard). */
function scratchFor(C: number): Uint32Array {
  let s = scratches.get(C);
  if (!s) {
    s = new Uint32Array(C * C);
    scratches.set(C, s);
  }
  return s;
}

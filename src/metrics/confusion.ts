import { CLASS_NAMES, IGNORE_INDEX, NUM_CLASSES } from '../core/classes.js';
import { FprlError } from '../core/errors.js';
import { countConfusion } from './count.js';
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
   * The counting itself is the project's one counter, {@link countConfusion}.
   */
  add(pred: ArrayLike<number>, target: ArrayLike<number>): this {
    this.total += countConfusion(
      pred,
      target,
      this.numClasses,
      this.ignoreIndex,
      this.counts,
      'ConfusionMatrix.add',
    );
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

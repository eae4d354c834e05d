import { FprlError } from '../src/core/errors.js';
import type { RewardContext } from '../src/core/types.js';

/** How per-class scores become one number per image. */
export type Average = 'macro' | 'micro' | 'weighted';
/** What a class absent from both the prediction and the truth of an image scores. */
export type Absent = 'skip' | 'one' | 'zero';

/** Options shared by the class-wise rewards (f1, dice, iou, boundary-f1). */
export interface ClassOptions {
  average: Average;
  classes?: number[];
  includeBackground: boolean;
  ignoreIndex?: number;
  absent: Absent;
}

/**
 * The schema properties of {@link ClassOptions}. Conventions, per image:
 * - `macro`: mean of the per-class scores; a class absent from both prediction and truth is
 *   left out (`skip`), or scores 1 (`one`: not predicting it was right) or 0 (`zero`).
 * - `micro`: one score from the counts pooled over the scored classes. Over ALL classes
 *   (includeBackground) every pixel is one TP or one FP + one FN, so micro-F1 = pixel accuracy.
 * - `weighted`: per-class scores weighted by the class's true pixels (absent classes weigh 0).
 * - When nothing is left to score (every scored class absent from both), the image scores 1,
 *   or 0 with `absent: 'zero'`.
 */
export const CLASS_OPTION_PROPERTIES = {
  average: {
    type: 'string',
    enum: ['macro', 'micro', 'weighted'],
    default: 'macro',
    description:
      'macro: mean over classes; micro: pooled counts (= pixel accuracy over all classes); weighted: by true pixels',
  },
  classes: {
    type: 'array',
    items: { type: 'integer', minimum: 0, maximum: 254 },
    minItems: 1,
    uniqueItems: true,
    description: 'class indices to score (default: all, background only with includeBackground)',
  },
  includeBackground: {
    type: 'boolean',
    default: false,
    description: 'score class 0 too when `classes` is not given (LaPa mean F1 excludes it)',
  },
  ignoreIndex: {
    type: 'integer',
    minimum: 0,
    description: "target value that counts for nothing (default: the env's, 255)",
  },
  absent: {
    type: 'string',
    enum: ['skip', 'one', 'zero'],
    default: 'skip',
    description: 'score of a class absent from both prediction and truth: left out, 1 or 0',
  },
} as const;

/** The classes a reward scores, checked against the env's class count. */
export function scoredClasses(opts: ClassOptions, ctx: RewardContext, plugin: string): number[] {
  const C = ctx.numClasses;
  if (opts.classes) {
    const bad = opts.classes.filter((c) => c >= C);
    if (bad.length) {
      throw new FprlError(`options.classes has ${bad.join(', ')}, but the env has classes 0..${C - 1}`, {
        where: `reward plugin '${plugin}'`,
      });
    }
    return opts.classes;
  }
  const start = opts.includeBackground ? 0 : 1;
  return Array.from({ length: C - start }, (_, i) => i + start);
}

export function ignoreOf(opts: { ignoreIndex?: number }, ctx: RewardContext): number {
  return opts.ignoreIndex ?? ctx.ignoreIndex;
}

/** The score of an image with nothing to score. */
export function emptyScore(absent: Absent): number {
  return absent === 'zero' ? 0 : 1;
}

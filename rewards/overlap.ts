import type { PixelCreditKind, RewardContext, RewardPlugin } from '../src/core/types.js';
import { countClasses, type ClassCounts, type Overlap } from '../src/metrics/index.js';
import { averageScore } from './average.js';
import { correctnessCredit, differenceCredit } from './credit.js';
import { CLASS_OPTION_PROPERTIES, ignoreOf, scoredClasses, type ClassOptions } from './options.js';

/** Options of f1, dice and iou. `smooth` (dice only; 0 elsewhere) is added to numerator and denominator. */
export type OverlapOptions = ClassOptions & { smooth?: number };

/**
 * Image-level overlap rewards: F1 (= Dice for hard labels) and IoU per class, averaged per the
 * options. Per-pixel credit: `pixel` (1 where right, 0 where wrong or ignored) and `difference`
 * (exact counterfactual change of this reward, closed form from the image's class counts).
 */
function overlapReward(
  name: string,
  kind: Overlap,
  description: string,
  smoothing: boolean,
): RewardPlugin<OverlapOptions> {
  const properties = smoothing
    ? {
        ...CLASS_OPTION_PROPERTIES,
        smooth: {
          type: 'number',
          minimum: 0,
          default: 0,
          description: 'added to numerator and denominator ((2TP+s)/(P+G+s)); 0 makes Dice equal F1',
        },
      }
    : CLASS_OPTION_PROPERTIES;
  const scorer = (ctx: RewardContext, opts: OverlapOptions) => {
    const classes = scoredClasses(opts, ctx, name);
    const o = { kind, average: opts.average, absent: opts.absent, smooth: opts.smooth ?? 0 };
    return (counts: ClassCounts) => averageScore(counts, classes, o);
  };
  return {
    name,
    description,
    optionsSchema: { type: 'object', properties, additionalProperties: false },
    range: [0, 1],
    credit: ['pixel', 'difference'],
    compute(pred, target, ctx, opts) {
      return scorer(
        ctx,
        opts,
      )(countClasses(pred, target, ctx.numClasses, ignoreOf(opts, ctx), pluginWhere(name)));
    },
    pixelCredit(pred, target, ctx, opts, creditKind: PixelCreditKind) {
      const ignore = ignoreOf(opts, ctx);
      if (creditKind === 'pixel') return correctnessCredit(pred, target, ignore);
      const counts = countClasses(pred, target, ctx.numClasses, ignore, pluginWhere(name));
      return differenceCredit(pred, target, counts, ctx.numClasses, ignore, scorer(ctx, opts));
    },
  };
}

export const f1Reward = (): RewardPlugin<OverlapOptions> =>
  overlapReward('f1', 'f1', 'F1 per class, 2TP / (predicted + true), averaged over classes', false);

export const diceReward = (): RewardPlugin<OverlapOptions> =>
  overlapReward('dice', 'f1', 'Dice per class (= F1 for hard labels), optional smoothing', true);

export const iouReward = (): RewardPlugin<OverlapOptions> =>
  overlapReward(
    'iou',
    'iou',
    'IoU (Jaccard) per class, TP / (predicted + true - TP), averaged over classes',
    false,
  );

const pluginWhere = (name: string): string => `reward plugin '${name}'`;

import type { RewardPlugin } from '../src/core/types.js';
import { correctnessCredit } from './credit.js';
import { CLASS_OPTION_PROPERTIES, emptyScore, ignoreOf } from './options.js';

export interface PixelAccuracyOptions {
  ignoreIndex?: number;
}

/**
 * Fraction of non-ignored pixels labelled right (an all-ignored image scores 1: nothing to get
 * wrong). Dominated by the big classes (background, skin, hair): the student report's reward
 * was micro-F1, which is exactly this. Difference credit is exact: 1/N for each wrong pixel.
 */
export const pixelAccuracyReward = (): RewardPlugin<PixelAccuracyOptions> => ({
  name: 'pixel-accuracy',
  description: 'fraction of non-ignored pixels labelled right (= micro-F1 over all classes)',
  optionsSchema: {
    type: 'object',
    properties: { ignoreIndex: CLASS_OPTION_PROPERTIES.ignoreIndex },
    additionalProperties: false,
  },
  range: [0, 1],
  credit: ['pixel', 'difference'],
  compute(pred, target, ctx, opts) {
    const ignore = ignoreOf(opts, ctx);
    let n = 0;
    let right = 0;
    for (let i = 0; i < pred.length; i++) {
      if (target[i] === ignore) continue;
      n++;
      if (pred[i] === target[i]) right++;
    }
    return n === 0 ? emptyScore('skip') : right / n;
  },
  pixelCredit(pred, target, ctx, opts, kind) {
    const ignore = ignoreOf(opts, ctx);
    const credit = correctnessCredit(pred, target, ignore);
    if (kind === 'pixel') return credit;
    let n = 0;
    for (let i = 0; i < target.length; i++) if (target[i] !== ignore) n++;
    // Fixing one wrong pixel adds exactly 1/n; right and ignored pixels change nothing.
    for (let i = 0; i < credit.length; i++) credit[i] = target[i] === ignore || credit[i] === 1 ? 0 : 1 / n;
    return credit;
  },
});

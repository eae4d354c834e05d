import { Registry } from '../src/core/registry.js';
import type { RewardPlugin } from '../src/core/types.js';
import { boundaryF1Reward } from './boundary-f1.js';
import { compositeReward } from './composite.js';
import { defineReward } from './define.js';
import { diceReward, f1Reward, iouReward } from './overlap.js';
import { pixelAccuracyReward } from './pixel-accuracy.js';

/** Every reward usable by name in experiment JSON. Built-ins arrive with {@link registerBuiltinRewards}. */
export const rewardRegistry = new Registry<RewardPlugin>('reward');

/**
 * Register the built-in rewards (f1, dice, iou, pixel-accuracy, boundary-f1, composite).
 * Explicit, never a side effect of importing; idempotent (names already there are kept, so a
 * user's replacement registered first wins).
 */
export function registerBuiltinRewards(registry: Registry<RewardPlugin> = rewardRegistry): void {
  const builtins = [
    f1Reward(),
    diceReward(),
    iouReward(),
    pixelAccuracyReward(),
    boundaryF1Reward(),
    compositeReward(registry),
  ] as RewardPlugin[];
  for (const plugin of builtins) {
    if (!registry.has(plugin.name)) registry.register(defineReward(plugin));
  }
}

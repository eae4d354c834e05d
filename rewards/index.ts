/** Reward plugins: definition, registry, built-ins, and the bus adapter. */
export { defineReward, isRewardDefinition, resolveOptions, rangeOf, optionInfo } from './define.js';
export type { RewardDefinition, OptionInfo } from './define.js';
export { rewardRegistry, registerBuiltinRewards } from './registry.js';
export { attachRewards, resolveComponents, combinedRange, RewardAttachment } from './attach.js';
export type { AttachedComponent } from './attach.js';
export { registerRewardModule } from './load.js';
export { f1Reward, diceReward, iouReward, type OverlapOptions } from './overlap.js';
export { pixelAccuracyReward, type PixelAccuracyOptions } from './pixel-accuracy.js';
export { boundaryF1Reward, type BoundaryF1Options } from './boundary-f1.js';
export { compositeReward, type CompositeOptions } from './composite.js';
export type { ClassOptions, Average, Absent } from './options.js';
export { differenceCredit, correctnessCredit } from './credit.js';
export { averageScore, type AverageOptions } from './average.js';

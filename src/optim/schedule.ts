import type { ScheduleConfig } from './config.js';

/**
 * Learning rate for update number `step` (0-based) of `totalSteps`.
 * `warmup` ramps linearly from lr/warmupSteps to lr; `cosine` warms up the same way, then
 * decays along half a cosine to `minLrRatio * lr` at the last step.
 */
export function learningRate(schedule: ScheduleConfig, lr: number, step: number, totalSteps: number): number {
  const w = schedule.warmupSteps;
  if (schedule.name !== 'none' && step < w) return (lr * (step + 1)) / w;
  if (schedule.name !== 'cosine') return lr;
  const span = Math.max(1, totalSteps - w - 1);
  const progress = Math.min(1, Math.max(0, (step - w) / span));
  const min = lr * schedule.minLrRatio;
  return min + (lr - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/** Linear interpolation from `from` (step 0) to `to` (last step); used for the entropy coefficient. */
export function linearDecay(from: number, to: number, step: number, totalSteps: number): number {
  const t = Math.min(1, Math.max(0, step / Math.max(1, totalSteps - 1)));
  return from + (to - from) * t;
}

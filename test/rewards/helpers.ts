import { Rng } from '../../src/core/rng.js';
import type { RewardContext, RewardPlugin } from '../../src/core/types.js';
import { resolveOptions } from '../../rewards/index.js';

export function ctxOf(height: number, width: number, numClasses = 11, ignoreIndex = 255): RewardContext {
  return { height, width, numClasses, ignoreIndex };
}

/** Score one image synchronously with options resolved (defaults filled) as the env would. */
export function score<O>(
  plugin: RewardPlugin<O>,
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  ctx: RewardContext,
  options: Record<string, unknown> = {},
): number {
  const opts = resolveOptions(plugin, options, 'test');
  const v = plugin.compute(Int32Array.from(pred), Int32Array.from(target), ctx, opts);
  if (typeof v !== 'number') throw new Error('expected a synchronous reward');
  return v;
}

/** A random labelling pair with some ignored targets and some classes missing. */
export function randomPair(
  rng: Rng,
  n: number,
  C: number,
  ignoreRate = 0.1,
): { pred: Int32Array; target: Int32Array } {
  const pred = new Int32Array(n);
  const target = new Int32Array(n);
  // Use only a random subset of classes so that some are absent from both.
  const used = Array.from({ length: C }, (_, c) => c).filter(() => rng.bernoulli(0.7));
  if (used.length === 0) used.push(0);
  for (let i = 0; i < n; i++) {
    target[i] = rng.bernoulli(ignoreRate) ? 255 : rng.pick(used);
    // Mostly right, sometimes wrong, as a half-trained policy would be.
    pred[i] = target[i] !== 255 && rng.bernoulli(0.6) ? target[i] : rng.pick(used);
  }
  return { pred, target };
}

/**
 * A reward module for experiment configs (`"rewardModules": ["faulty-reward.ts"]`) that turns
 * bad after a number of images: pixel accuracy at first, then NaN, Infinity, or a finite
 * value so large that the policy gradient (1e37) or the loss itself (3e38) overflows float32. Each env resolves its own
 * copy of the options, so the count is per run and the fault comes at the same step every time.
 */
import { defineReward } from '../../rewards/index.js';

interface FaultyOptions {
  /** Images scored normally before the fault. */
  after: number;
  /** `nan-credit`: the image reward stays pixel accuracy, the per-pixel credit turns NaN. */
  fault: 'nan' | 'infinity' | 'huge' | 'nan-credit';
  /** The finite value of the `huge` fault. */
  huge: number;
}

const scored = new WeakMap<object, number>();

export default defineReward<FaultyOptions>({
  name: 'faulty-after',
  description: 'pixel accuracy, then NaN, Infinity or a huge value after `after` images (a test fixture)',
  optionsSchema: {
    type: 'object',
    properties: {
      after: { type: 'integer', minimum: 0, default: 0 },
      fault: { type: 'string', enum: ['nan', 'infinity', 'huge', 'nan-credit'], default: 'nan' },
      huge: { type: 'number', default: 1e37 },
    },
    additionalProperties: false,
  },
  // Declared unbounded, so the env's range check lets huge values through to the agent (Infinity is refused as not finite).
  range: [-Infinity, Infinity],
  credit: ['pixel'],
  pixelCredit(pred, target, ctx, opts) {
    // Counted by compute, which the env calls for every image of the same step.
    const bad = opts.fault === 'nan-credit' && (scored.get(opts) ?? 0) >= opts.after;
    return Float32Array.from(pred, (p, i) => (bad ? NaN : p === target[i] ? 1 : 0));
  },
  compute(pred, target, ctx, opts) {
    const n = scored.get(opts) ?? 0;
    scored.set(opts, n + 1);
    if (opts.fault === 'nan-credit') return accuracy(pred, target, ctx.ignoreIndex);
    if (n >= opts.after) return opts.fault === 'nan' ? NaN : opts.fault === 'infinity' ? Infinity : opts.huge;
    return accuracy(pred, target, ctx.ignoreIndex);
  },
});

function accuracy(pred: Int32Array, target: Int32Array, ignoreIndex: number): number {
  let hits = 0;
  let counted = 0;
  for (let i = 0; i < pred.length; i++) {
    if (target[i] === ignoreIndex) continue;
    counted++;
    if (pred[i] === target[i]) hits++;
  }
  return counted ? hits / counted : 0;
}

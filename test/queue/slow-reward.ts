/**
 * A reward module for queue tests: pixel accuracy, answered after `ms` milliseconds (an async
 * reward, as a remote scorer would be). It makes a tiny run last long enough to kill or stop its
 * worker mid-run; the numbers do not depend on the delay.
 */
import { defineReward } from '../../rewards/index.js';

interface SlowOptions {
  ms: number;
}

export default defineReward<SlowOptions>({
  name: 'slow-accuracy',
  description: 'pixel accuracy after a delay of `ms` milliseconds (a test fixture)',
  optionsSchema: {
    type: 'object',
    properties: { ms: { type: 'integer', minimum: 0, default: 20 } },
    additionalProperties: false,
  },
  range: [0, 1],
  async compute(pred, target, ctx, opts) {
    await new Promise((r) => setTimeout(r, opts.ms));
    let hits = 0;
    let counted = 0;
    for (let i = 0; i < pred.length; i++) {
      if (target[i] === ctx.ignoreIndex) continue;
      counted++;
      if (pred[i] === target[i]) hits++;
    }
    return counted ? hits / counted : 0;
  },
});

/**
 * A reward module for experiment configs that kills its own worker process (SIGKILL, as the
 * OOM killer does) after `after` images, once: it dies only while the file `marker` exists,
 * and removes it first, so `--retry-failed` then runs to the end. Pixel accuracy otherwise.
 * Outside a worker process (no IPC channel) it throws instead of killing the test runner.
 */
import fs from 'node:fs';
import { defineReward } from '../../rewards/index.js';

interface DyingOptions {
  after: number;
  marker: string;
}

const scored = new WeakMap<object, number>();

export default defineReward<DyingOptions>({
  name: 'dies-once',
  description:
    'pixel accuracy; kills its worker process after `after` images while `marker` exists (a test fixture)',
  optionsSchema: {
    type: 'object',
    properties: { after: { type: 'integer', minimum: 0 }, marker: { type: 'string' } },
    required: ['after', 'marker'],
    additionalProperties: false,
  },
  range: [0, 1],
  compute(pred, target, ctx, opts) {
    const n = scored.get(opts) ?? 0;
    scored.set(opts, n + 1);
    if (n >= opts.after && fs.existsSync(opts.marker)) {
      if (!process.send) throw new Error('dies-once kills only worker processes');
      fs.rmSync(opts.marker);
      process.kill(process.pid, 'SIGKILL');
    }
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

import { expect } from 'chai';
import { Rng } from '../../src/core/rng.js';
import type { PixelCreditKind, RewardPlugin } from '../../src/core/types.js';
import {
  compositeReward,
  diceReward,
  f1Reward,
  iouReward,
  pixelAccuracyReward,
  registerBuiltinRewards,
  resolveOptions,
} from '../../rewards/index.js';
import { Registry } from '../../src/core/registry.js';
import { ctxOf, randomPair } from './helpers.js';

/** Score with each wrong pixel set to its true label, one at a time: the definition of difference credit. */
function bruteForceDifference(
  plugin: RewardPlugin,
  pred: Int32Array,
  target: Int32Array,
  ctx: ReturnType<typeof ctxOf>,
  opts: unknown,
) {
  const base = plugin.compute(pred, target, ctx, opts) as number;
  const out = new Float64Array(pred.length);
  for (let i = 0; i < pred.length; i++) {
    if (target[i] === ctx.ignoreIndex || pred[i] === target[i]) continue;
    const changed = pred.slice();
    changed[i] = target[i];
    out[i] = (plugin.compute(changed, target, ctx, opts) as number) - base;
  }
  return out;
}

function credit(
  plugin: RewardPlugin,
  pred: Int32Array,
  target: Int32Array,
  ctx: ReturnType<typeof ctxOf>,
  opts: unknown,
  kind: PixelCreditKind,
) {
  return plugin.pixelCredit!(pred, target, ctx, opts, kind);
}

describe('rewards: per-pixel credit', () => {
  const registry = new Registry<RewardPlugin>('reward');
  registerBuiltinRewards(registry);
  const cases: [string, RewardPlugin, Record<string, unknown>[]][] = [
    [
      'f1',
      f1Reward() as RewardPlugin,
      [
        {},
        { average: 'micro' },
        { average: 'weighted', includeBackground: true },
        { absent: 'one' },
        { absent: 'zero', classes: [1, 3] },
      ],
    ],
    [
      'dice',
      diceReward() as RewardPlugin,
      [{ smooth: 0.5 }, { smooth: 1, average: 'micro', includeBackground: true }],
    ],
    [
      'iou',
      iouReward() as RewardPlugin,
      [{}, { average: 'micro' }, { average: 'weighted' }, { absent: 'one', includeBackground: true }],
    ],
    ['pixel-accuracy', pixelAccuracyReward() as RewardPlugin, [{}]],
    [
      'composite',
      compositeReward(registry) as RewardPlugin,
      [
        {
          parts: [
            { plugin: 'f1', weight: 0.7 },
            { plugin: 'iou', weight: -0.3, options: { average: 'micro' } },
          ],
        },
      ],
    ],
  ];
  for (const [name, plugin, optionsList] of cases) {
    for (const options of optionsList) {
      it(`gives ${name} difference credit equal to brute-force recomputation (${JSON.stringify(options)})`, () => {
        const rng = new Rng(`${name}${JSON.stringify(options)}`);
        const opts = resolveOptions(plugin, options, 'test');
        for (let trial = 0; trial < 12; trial++) {
          const { pred, target } = randomPair(rng, 35, 5);
          const ctx = ctxOf(5, 7, 5);
          const got = credit(plugin, pred, target, ctx, opts, 'difference');
          const want = bruteForceDifference(plugin, pred, target, ctx, opts);
          for (let i = 0; i < pred.length; i++) expect(got[i], `pixel ${i}`).to.be.closeTo(want[i], 1e-6);
        }
      });
    }
  }

  it('gives pixel credit 1 where right and 0 where wrong or ignored', () => {
    const c = credit(
      f1Reward() as RewardPlugin,
      Int32Array.from([0, 1, 2, 2]),
      Int32Array.from([0, 2, 2, 255]),
      ctxOf(2, 2, 3),
      resolveOptions(f1Reward(), {}, 't'),
      'pixel',
    );
    expect([...c]).to.deep.equal([1, 0, 1, 0]);
  });

  it('gives every wrong pixel of a full 256x256 image positive macro-F1 difference credit, and right ones none', () => {
    // Fixing a wrong pixel always raises the true class's F1 and never lowers the predicted one's.
    const rng = new Rng(3);
    const { pred, target } = randomPair(rng, 256 * 256, 11);
    const plugin = f1Reward();
    const c = plugin.pixelCredit!(
      pred,
      target,
      ctxOf(256, 256),
      resolveOptions(plugin, {}, 't'),
      'difference',
    );
    let bad = 0;
    let wrong = 0;
    for (let i = 0; i < c.length; i++) {
      const isWrong = target[i] !== 255 && pred[i] !== target[i];
      wrong += isWrong ? 1 : 0;
      if (isWrong ? !(c[i] > 0) : c[i] !== 0) bad++;
    }
    expect(wrong).to.be.greaterThan(10000);
    expect(bad).to.equal(0);
  });
});

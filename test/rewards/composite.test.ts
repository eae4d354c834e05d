import { expect } from 'chai';
import { FprlError } from '../../src/core/errors.js';
import { Registry } from '../../src/core/registry.js';
import type { RewardPlugin } from '../../src/core/types.js';
import { rangeOf, registerBuiltinRewards, resolveOptions } from '../../rewards/index.js';
import { ctxOf, score } from './helpers.js';

const TARGET = [0, 0, 1, 1, 1, 2, 2, 255];
const PRED = [0, 1, 1, 1, 0, 2, 0, 3];
const CTX = ctxOf(2, 4, 4);

describe('rewards: composite', () => {
  const registry = new Registry<RewardPlugin>('reward');
  registerBuiltinRewards(registry);
  const composite = registry.create('composite');

  it('is the weighted sum of its parts', () => {
    const parts = [
      { plugin: 'f1', weight: 0.5 },
      { plugin: 'pixel-accuracy', weight: 0.25 },
      { plugin: 'iou', weight: 0.25, options: { includeBackground: true } },
    ];
    // hand-computed in overlap.test.ts: F1 2/3, accuracy 4/7, IoU with background 5/12
    const want = 0.5 * (2 / 3) + 0.25 * (4 / 7) + 0.25 * (5 / 12);
    expect(score(composite, PRED, TARGET, CTX, { parts })).to.be.closeTo(want, 1e-12);
  });

  it('declares the range of the weighted sum, negative weights included', () => {
    const opts = resolveOptions(
      composite,
      {
        parts: [
          { plugin: 'f1', weight: 2 },
          { plugin: 'iou', weight: -1 },
        ],
      },
      't',
    );
    expect(rangeOf(composite, opts)).to.deep.equal([-1, 2]);
  });

  it('names an unknown part and lists the registered rewards', () => {
    expect(() =>
      resolveOptions(
        composite,
        {
          parts: [
            { plugin: 'f1', weight: 1 },
            { plugin: 'nope', weight: 1 },
          ],
        },
        't',
      ),
    )
      .to.throw(FprlError, /unknown reward plugin 'nope'/)
      .with.property('where', "t, composite part 1 ('nope')");
  });

  it('names the part whose options are bad', () => {
    expect(() =>
      resolveOptions(composite, { parts: [{ plugin: 'iou', weight: 1, options: { average: 'x' } }] }, 't'),
    )
      .to.throw(FprlError, /must be one of/)
      .with.property('where', "t, composite part 0 ('iou')");
  });

  it('refuses difference credit when a part cannot give it, naming the part', () => {
    const opts = resolveOptions(
      composite,
      {
        parts: [
          { plugin: 'f1', weight: 1 },
          { plugin: 'boundary-f1', weight: 1 },
        ],
      },
      't',
    );
    expect(() =>
      composite.pixelCredit!(Int32Array.from(PRED), Int32Array.from(TARGET), CTX, opts, 'difference'),
    )
      .to.throw(FprlError, /gives no 'difference' pixel credit/)
      .with.property('where', "composite part 1 ('boundary-f1')");
  });
});

import { expect } from 'chai';
import { FprlError } from '../../src/core/errors.js';
import { Registry } from '../../src/core/registry.js';
import type { RewardPlugin } from '../../src/core/types.js';
import { defineReward, rangeOf, registerBuiltinRewards, resolveOptions } from '../../rewards/index.js';
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

  describe('names the part and its plugin when the part fails', () => {
    const faulty = new Registry<RewardPlugin>('reward');
    registerBuiltinRewards(faulty);
    const base = {
      description: 't',
      optionsSchema: { type: 'object', properties: {}, additionalProperties: false },
      range: [0, 1] as [number, number],
    };
    faulty.register(
      defineReward({
        ...base,
        name: 'nan-credit',
        credit: ['pixel'],
        compute: () => 0.5,
        pixelCredit: (pred) => new Float32Array(pred.length).fill(NaN),
      }),
    );
    faulty.register(defineReward({ ...base, name: 'throws', compute: () => { throw new Error('boom'); } })); // prettier-ignore
    faulty.register(
      defineReward({ ...base, name: 'rejects', compute: () => Promise.reject(new Error('scorer down')) }),
    );
    const comp = faulty.create('composite');
    const opts = (plugin: string) =>
      resolveOptions(
        comp,
        {
          parts: [
            { plugin: 'f1', weight: 1 },
            { plugin, weight: 1 },
          ],
        },
        't',
      );
    const pred = Int32Array.from(PRED);
    const target = Int32Array.from(TARGET);

    it('a part whose pixel credit is NaN', () => {
      expect(() => comp.pixelCredit!(pred, target, CTX, opts('nan-credit'), 'pixel'))
        .to.throw(FprlError, /pixelCredit returned NaN at pixel 0 of this image \(8 of 8 values not finite\)/)
        .with.property('where', "composite part 1 ('nan-credit')");
    });

    it('a part that throws', () => {
      expect(() => comp.compute(pred, target, CTX, opts('throws')))
        .to.throw(FprlError, /boom/)
        .with.property('where', "composite part 1 ('throws')");
    });

    it('a part whose Promise rejects', async () => {
      const err = await Promise.resolve(comp.compute(pred, target, CTX, opts('rejects'))).then(
        () => expect.fail('should reject'),
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(FprlError).with.property('where', "composite part 1 ('rejects')");
      expect((err as Error).message).to.contain('scorer down');
    });
  });
});

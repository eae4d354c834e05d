import { expect } from 'chai';
import { FprlError } from '../../src/core/errors.js';
import { PerImageStats } from '../../src/metrics/index.js';
import { Rng } from '../../src/core/rng.js';
import { diceReward, f1Reward, iouReward, pixelAccuracyReward } from '../../rewards/index.js';
import { ctxOf, randomPair, score } from './helpers.js';

// A 2x4 image with 4 classes, worked by hand; the last pixel is ignored (its prediction 3 counts for nothing).
//   target 0 0 1 1 | 1 2 2 255
//   pred   0 1 1 1 | 0 2 0 3
// class 0: TP 1, predicted 3, true 2 -> F1 2/5, IoU 1/4
// class 1: TP 2, predicted 3, true 3 -> F1 2/3, IoU 1/2
// class 2: TP 1, predicted 1, true 2 -> F1 2/3, IoU 1/2
// class 3: absent from both; 4 of 7 counted pixels right
const TARGET = [0, 0, 1, 1, 1, 2, 2, 255];
const PRED = [0, 1, 1, 1, 0, 2, 0, 3];
const CTX = ctxOf(2, 4, 4);

describe('rewards: f1, dice, iou, pixel-accuracy', () => {
  const f1 = f1Reward();
  const iou = iouReward();
  const dice = diceReward();
  const acc = pixelAccuracyReward();

  const table: [string, Record<string, unknown>, number][] = [
    ['macro over foreground, absent classes skipped (the default)', {}, 2 / 3],
    ['absent classes scoring one', { absent: 'one' }, (2 / 3 + 2 / 3 + 1) / 3],
    ['absent classes scoring zero', { absent: 'zero' }, (2 / 3 + 2 / 3) / 3],
    ['background included', { includeBackground: true }, (2 / 5 + 2 / 3 + 2 / 3) / 3],
    ['a class subset', { classes: [0, 2] }, (2 / 5 + 2 / 3) / 2],
    ['micro over foreground', { average: 'micro' }, (2 * 3) / (4 + 5)],
    ['micro over all classes', { average: 'micro', includeBackground: true }, 4 / 7],
    [
      'weighted by true pixels',
      { average: 'weighted', includeBackground: true },
      (2 * 0.4 + 3 * (2 / 3) + 2 * (2 / 3)) / 7,
    ],
  ];
  for (const [what, options, want] of table) {
    it(`gives the hand-computed F1 with ${what}`, () => {
      expect(score(f1, PRED, TARGET, CTX, options)).to.be.closeTo(want, 1e-12);
    });
  }

  it('gives the hand-computed IoU, macro and micro', () => {
    expect(score(iou, PRED, TARGET, CTX)).to.be.closeTo(1 / 2, 1e-12);
    expect(score(iou, PRED, TARGET, CTX, { includeBackground: true })).to.be.closeTo(5 / 12, 1e-12);
    expect(score(iou, PRED, TARGET, CTX, { average: 'micro', includeBackground: true })).to.be.closeTo(
      4 / 10,
      1e-12,
    );
  });

  it('gives the hand-computed smoothed Dice', () => {
    // (2TP + 1) / (P + G + 1): class 1 5/7, class 2 3/4
    expect(score(dice, PRED, TARGET, CTX, { smooth: 1 })).to.be.closeTo((5 / 7 + 3 / 4) / 2, 1e-12);
  });

  it('gives the hand-computed pixel accuracy, skipping ignored pixels', () => {
    expect(score(acc, PRED, TARGET, CTX)).to.be.closeTo(4 / 7, 1e-12);
    expect(score(acc, [1, 1], [255, 255], ctxOf(1, 2, 4)), 'nothing to get wrong').to.equal(1);
  });

  it('scores an image with nothing to score as 1, or 0 with absent: zero', () => {
    // only class 3 is scored and it is absent from both
    expect(score(f1, PRED, TARGET, CTX, { classes: [3] })).to.equal(1);
    expect(score(f1, PRED, TARGET, CTX, { classes: [3], absent: 'zero' })).to.equal(0);
    expect(score(f1, PRED, TARGET, CTX, { classes: [3], average: 'weighted' })).to.equal(1);
  });

  it('scores a perfect labelling 1 and a fully wrong one 0', () => {
    expect(
      score(
        f1,
        TARGET.map((t) => (t === 255 ? 0 : t)),
        TARGET,
        CTX,
      ),
    ).to.equal(1);
    expect(score(iou, [1, 0, 0], [0, 1, 1], ctxOf(1, 3, 2))).to.equal(0);
  });

  it('gives Dice equal to F1 for hard labels, for every averaging and absent rule', () => {
    const rng = new Rng(1);
    for (let trial = 0; trial < 40; trial++) {
      const { pred, target } = randomPair(rng, 30, 5);
      const ctx = ctxOf(5, 6, 5);
      const options = {
        average: rng.pick(['macro', 'micro', 'weighted']),
        absent: rng.pick(['skip', 'one', 'zero']),
        includeBackground: rng.bernoulli(0.5),
      };
      expect(score(dice, pred, target, ctx, options)).to.equal(score(f1, pred, target, ctx, options));
    }
  });

  it('gives micro-F1 over all classes equal to pixel accuracy (the student report reward)', () => {
    const rng = new Rng(2);
    for (let trial = 0; trial < 40; trial++) {
      const { pred, target } = randomPair(rng, 48, 11, 0.2);
      const ctx = ctxOf(6, 8);
      const micro = score(f1, pred, target, ctx, { average: 'micro', includeBackground: true });
      expect(micro).to.be.closeTo(score(acc, pred, target, ctx), 1e-12);
    }
  });

  it('rejects a class subset outside the env classes, naming the plugin', () => {
    expect(() => score(f1, PRED, TARGET, CTX, { classes: [7] })).to.throw(/reward plugin 'f1'|classes has 7/);
  });

  it('rejects predicted labels outside the classes, naming the plugin', () => {
    expect(() => score(f1, [9, 0], [0, 0], ctxOf(1, 2, 4)))
      .to.throw(FprlError, /prediction pixel 0 has label 9, outside \[0, 4\)/)
      .with.property('where', "reward plugin 'f1'");
  });
});

describe('rewards and metrics share one counter and one overlap formula', () => {
  it('gives macro f1 and iou rewards bit-equal to the per-image mean F1 and mIoU of the metrics', () => {
    const rng = new Rng('rewards/metrics-agree');
    const ctx = ctxOf(16, 16);
    const f1 = f1Reward();
    const iou = iouReward();
    for (let k = 0; k < 20; k++) {
      const { pred, target } = randomPair(rng, 256, 11);
      const stats = new PerImageStats(11, 255).add(pred, target);
      const [meanF1] = stats.list('meanF1');
      const [mIoU] = stats.list('mIoU');
      if (Number.isNaN(meanF1) || Number.isNaN(mIoU)) continue;
      expect(score(f1, pred, target, ctx)).to.equal(meanF1);
      expect(score(iou, pred, target, ctx, { includeBackground: true })).to.equal(mIoU);
    }
  });
});

import { expect } from 'chai';
import { CLASS_NAMES } from '../../src/core/classes.js';
import { FprlError } from '../../src/core/errors.js';
import { ConfusionMatrix } from '../../src/metrics/index.js';
import { benchConfusion } from '../../src/metrics/bench.js';

// A 3-class table worked by hand (row = truth, column = prediction), pixel 6 ignored:
//   target 0 0 1 1 1 2 255 2
//   pred   0 1 1 1 0 2   1 0
//        p0 p1 p2 | support
//   t0 [  1  1  0 ]  2
//   t1 [  1  2  0 ]  3
//   t2 [  1  0  1 ]  2
//  pred   3  3  1    7 counted, 4 correct
const TARGET = [0, 0, 1, 1, 1, 2, 255, 2];
const PRED = [0, 1, 1, 1, 0, 2, 1, 0];
const NAMES = ['bg', 'a', 'b'];

describe('metrics: ConfusionMatrix', () => {
  it('counts pixels into the right cells and skips ignored targets', () => {
    const cm = new ConfusionMatrix(3, 255, NAMES).add(new Int32Array(PRED), new Uint8Array(TARGET));
    expect([...cm.counts]).to.deep.equal([1, 1, 0, 1, 2, 0, 1, 0, 1]);
    expect(cm.total).to.equal(7);
    expect(cm.at(1, 0)).to.equal(1);
  });

  it('gives the hand-computed precision, recall, F1, IoU and means', () => {
    const s = new ConfusionMatrix(3, 255, NAMES).add(PRED, TARGET).scores();
    expect(s.pixelAccuracy).to.be.closeTo(4 / 7, 1e-12);
    const bg = s.perClass.bg;
    expect(bg.precision).to.be.closeTo(1 / 3, 1e-12);
    expect(bg.recall).to.be.closeTo(1 / 2, 1e-12);
    expect(bg.f1).to.be.closeTo(2 / 5, 1e-12);
    expect(bg.iou).to.be.closeTo(1 / 4, 1e-12);
    expect(bg.support).to.equal(2);
    expect(s.perClass.a).to.deep.include({ support: 3 });
    expect(s.perClass.a.f1).to.be.closeTo(2 / 3, 1e-12);
    expect(s.perClass.a.iou).to.be.closeTo(1 / 2, 1e-12);
    expect(s.perClass.b.precision).to.equal(1);
    expect(s.perClass.b.recall).to.equal(0.5);
    expect(s.perClass.b.f1).to.be.closeTo(2 / 3, 1e-12);
    // mean F1 leaves background out (LaPa); mIoU keeps it
    expect(s.meanF1).to.be.closeTo(2 / 3, 1e-12);
    expect(s.mIoU).to.be.closeTo((1 / 4 + 1 / 2 + 1 / 2) / 3, 1e-12);
  });

  it('reports Dice equal to F1 for hard labels', () => {
    const s = new ConfusionMatrix(3, 255, NAMES).add(PRED, TARGET).scores();
    expect(s.meanDice).to.equal(s.meanF1);
  });

  it('leaves a class absent from prediction and truth out of the means (NaN, listed as absent)', () => {
    // class 3 never occurs; class 2 occurs in the truth only (a real miss: F1 = IoU = 0)
    const s = new ConfusionMatrix(4, 255, ['bg', 'a', 'b', 'c']).add([0, 1, 1, 0], [0, 1, 2, 0]).scores();
    expect(s.perClass.c.f1).to.be.NaN;
    expect(s.perClass.c.iou).to.be.NaN;
    expect(s.perClass.c.precision).to.be.NaN;
    expect(s.perClass.c.recall).to.be.NaN;
    expect(s.absent).to.deep.equal(['c']);
    expect(s.perClass.b.f1).to.equal(0);
    expect(s.perClass.b.iou).to.equal(0);
    expect(s.perClass.b.precision, 'never predicted: precision undefined').to.be.NaN;
    expect(s.perClass.b.recall).to.equal(0);
    // a: tp 1, predicted 2, true 1 -> F1 2/3, IoU 1/2; bg: tp 2, P 2, G 2 -> 1, 1
    expect(s.meanF1).to.be.closeTo((2 / 3 + 0) / 2, 1e-12);
    expect(s.mIoU).to.be.closeTo((1 + 1 / 2 + 0) / 3, 1e-12);
  });

  it('gives NaN scores when every pixel is ignored, never a made-up number', () => {
    const s = new ConfusionMatrix(3, 255).add([1, 2], [255, 255]).scores();
    expect(s.pixels).to.equal(0);
    expect(s.pixelAccuracy).to.be.NaN;
    expect(s.meanF1).to.be.NaN;
    expect(s.mIoU).to.be.NaN;
  });

  it('names the LaPa classes for an 11-class matrix', () => {
    const s = new ConfusionMatrix().add([0, 10], [0, 10]).scores();
    expect(Object.keys(s.perClass)).to.deep.equal([...CLASS_NAMES]);
    expect(s.perClass.hair.f1).to.equal(1);
  });

  it('honours another ignore index', () => {
    const cm = new ConfusionMatrix(3, 0).add([1, 1, 2], [0, 1, 2]);
    expect(cm.total).to.equal(2);
    expect(cm.scores().pixelAccuracy).to.equal(1);
  });

  it('sums images added one by one, and merged shards, to the same matrix as one pass', () => {
    const whole = new ConfusionMatrix(3, 255).add(PRED, TARGET);
    const parts = new ConfusionMatrix(3, 255).add(PRED.slice(0, 3), TARGET.slice(0, 3));
    const rest = new ConfusionMatrix(3, 255).add(PRED.slice(3), TARGET.slice(3));
    parts.merge(rest);
    expect([...parts.counts]).to.deep.equal([...whole.counts]);
    expect(parts.total).to.equal(whole.total);
  });

  it('rejects out-of-range labels naming the position, and leaves the matrix unchanged', () => {
    const cm = new ConfusionMatrix(3, 255).add([0], [0]);
    expect(() => cm.add([0, 3], [0, 1])).to.throw(FprlError, /prediction pixel 1 has label 3/);
    expect(() => cm.add([0, 1], [0, -1])).to.throw(FprlError, /target pixel 1 has label -1/);
    expect(() => cm.add([0, 1.5], [0, 1])).to.throw(FprlError, /prediction pixel 1 has label 1.5/);
    expect(() => cm.add([0, 1], [0])).to.throw(FprlError, /2 pixels but target has 1/);
    expect(cm.total).to.equal(1);
    expect([...cm.counts]).to.deep.equal([1, 0, 0, 0, 0, 0, 0, 0, 0]);
    // the scratch was cleared after the failed add
    cm.add([1], [1]);
    expect([...cm.counts]).to.deep.equal([1, 0, 0, 0, 1, 0, 0, 0, 0]);
  });

  it('refuses to merge matrices of different class counts', () => {
    expect(() => new ConfusionMatrix(3).merge(new ConfusionMatrix(4))).to.throw(FprlError, /cannot merge/);
  });

  it('measures its throughput for the benchmark suite', () => {
    const pps = benchConfusion({ pixels: 1 << 14, repeats: 2 });
    expect(pps).to.be.a('number').and.to.be.greaterThan(0);
    expect(Number.isFinite(pps)).to.equal(true);
  });
});

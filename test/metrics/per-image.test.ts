import { expect } from 'chai';
import { FprlError } from '../../src/core/errors.js';
import { PerImageStats, spread } from '../../src/metrics/index.js';

describe('metrics: PerImageStats', () => {
  it('scores each image on its own and reports mean and sample spread', () => {
    // 3 classes, 4 pixels per image.
    // image 1: perfect -> accuracy 1, mean F1 (classes 1, 2) = 1
    // image 2: t 0 1 1 2 / p 0 1 2 2 -> accuracy 3/4; F1 a = 2/3, F1 b = 2/3
    const stats = new PerImageStats(3, 255);
    stats.addBatch(new Int32Array([0, 1, 1, 2, 0, 1, 2, 2]), new Uint8Array([0, 1, 1, 2, 0, 1, 1, 2]), 4);
    const s = stats.summary();
    expect(stats.count).to.equal(2);
    expect(s.pixelAccuracy.mean).to.be.closeTo(7 / 8, 1e-12);
    expect(s.pixelAccuracy.std).to.be.closeTo(Math.SQRT1_2 * 0.25, 1e-12);
    expect(s.pixelAccuracy.min).to.equal(0.75);
    expect(s.pixelAccuracy.max).to.equal(1);
    expect(s.meanF1.mean).to.be.closeTo((1 + 2 / 3) / 2, 1e-12);
    expect(stats.list('meanF1')).to.have.length(2);
  });

  it('leaves an image with nothing to score out of that metric (n counts defined images)', () => {
    const stats = new PerImageStats(3, 255).add([0, 1], [0, 1]).add([1, 1], [255, 255]);
    const s = stats.summary();
    expect(stats.count).to.equal(2);
    expect(s.pixelAccuracy.n).to.equal(1);
    expect(s.pixelAccuracy.mean).to.equal(1);
    expect(s.pixelAccuracy.std, 'one value has no sample spread').to.be.NaN;
  });

  it('refuses a batch that does not split into whole images', () => {
    expect(() => new PerImageStats(3).addBatch(new Int32Array(5), new Uint8Array(5), 2)).to.throw(FprlError);
  });

  it('computes the spread of a constant list as zero', () => {
    expect(spread([0.5, 0.5, 0.5])).to.deep.equal({ mean: 0.5, std: 0, min: 0.5, max: 0.5, n: 3 });
  });
});

import { expect } from 'chai';
import { computeAdvantages, policyWeights, updateEma } from '../../agents/advantage.js';
import { argmaxRows, sampleCategorical } from '../../agents/nets/sampling.js';
import { Rng } from '../../src/core/rng.js';

const f32 = (...xs: number[]) => Float32Array.from(xs);
const close = (a: ArrayLike<number>, b: number[]) =>
  expect(Array.from(a).map((x) => +x.toFixed(5))).to.deep.equal(b);

describe('advantages (hand-computed tables)', () => {
  // K = 2 samples, B = 2 images: rewards sample-major [k0b0, k0b1, k1b0, k1b1].
  const reward = f32(0.2, 0.6, 0.4, 1.0);
  const base = { K: 2, B: 2, P: 3, signal: reward, normalize: false };

  it('subtracts nothing with `none`', () => {
    close(computeAdvantages({ ...base, baseline: 'none' }).values, [0.2, 0.6, 0.4, 1.0]);
  });

  it('subtracts the moving average with `ema`, and nothing before the first batch', () => {
    close(computeAdvantages({ ...base, baseline: 'ema', ema: 0.5 }).values, [-0.3, 0.1, -0.1, 0.5]);
    close(computeAdvantages({ ...base, baseline: 'ema' }).values, [0.2, 0.6, 0.4, 1.0]);
    expect(updateEma(undefined, 0.55, 0.9)).to.equal(0.55);
    expect(updateEma(0.5, 0.6, 0.9)).to.be.closeTo(0.51, 1e-12);
  });

  it("subtracts the same image's greedy reward with `self-critical`", () => {
    close(
      computeAdvantages({ ...base, baseline: 'self-critical', greedy: f32(0.3, 0.9) }).values,
      [-0.1, -0.3, 0.1, 0.1],
    );
  });

  it('subtracts the mean of the other samples of the same image with `rloo`', () => {
    // K = 2: the other sample. Image 0: 0.2 - 0.4, 0.4 - 0.2; image 1: 0.6 - 1.0, 1.0 - 0.6.
    close(computeAdvantages({ ...base, baseline: 'rloo' }).values, [-0.2, -0.4, 0.2, 0.4]);
    // K = 3, one image: 1 - (2+3)/2, 2 - (1+3)/2, 3 - (1+2)/2.
    close(
      computeAdvantages({ K: 3, B: 1, P: 1, signal: f32(1, 2, 3), baseline: 'rloo', normalize: false })
        .values,
      [-1.5, 0, 1.5],
    );
  });

  it("subtracts the critic's value of the image with `critic`", () => {
    close(
      computeAdvantages({ ...base, baseline: 'critic', value: f32(0.25, 0.5) }).values,
      [-0.05, 0.1, 0.15, 0.5],
    );
  });

  it('applies rloo per pixel to per-pixel credit, leaving out ignored pixels', () => {
    // K = 2, B = 1, P = 3; pixel 2 is ignored.
    const signal = f32(1, 0, 1, 0, 0, 0);
    const a = computeAdvantages({
      K: 2,
      B: 1,
      P: 3,
      signal,
      baseline: 'rloo',
      normalize: false,
      mask: Uint8Array.from([1, 1, 0]),
    });
    expect(a.perPixel).to.equal(true);
    close(a.values, [1, 0, 0, -1, 0, 0]);
    expect(a.signalMean).to.equal(0.25);
  });

  it('standardises over the batch when asked, and reports the spread before', () => {
    const a = computeAdvantages({ ...base, baseline: 'none', normalize: true });
    expect(a.advMean).to.be.closeTo(0.55, 1e-6);
    expect(a.advStd).to.be.closeTo(Math.sqrt((0.35 ** 2 + 0.05 ** 2 + 0.15 ** 2 + 0.45 ** 2) / 4), 1e-6);
    const m = Array.from(a.values).reduce((s, x) => s + x, 0) / 4;
    const sd = Math.sqrt(Array.from(a.values).reduce((s, x) => s + (x - m) ** 2, 0) / 4);
    expect(m).to.be.closeTo(0, 1e-6);
    expect(sd).to.be.closeTo(1, 1e-5);
  });

  it('builds policy weights (1/N) sum_k A onehot(a) without the ignored pixels', () => {
    // K = 2, B = 1, P = 2, C = 3; image-level advantages [0.5, -1].
    const adv = computeAdvantages({
      K: 2,
      B: 1,
      P: 2,
      signal: f32(0.5, -1),
      baseline: 'none',
      normalize: false,
    });
    const actions = Int32Array.from([2, 0, 2, 1]); // sample 0: pixels (2, 0); sample 1: (2, 1)
    const W = policyWeights(actions, adv, 2, 1, 2, 3);
    // N = 4. Pixel 0: class 2 gets (0.5 - 1)/4. Pixel 1: class 0 gets 0.5/4, class 1 gets -1/4.
    close(W, [0, 0, -0.125, 0.125, -0.25, 0]);
    const masked = policyWeights(actions, adv, 2, 1, 2, 3, Uint8Array.from([1, 0]));
    close(masked, [0, 0, -0.125, 0, 0, 0]);
  });
});

describe('per-pixel sampling', () => {
  it('draws each class with its probability (chi-square over 40k draws)', () => {
    const probs = f32(0.1, 0.6, 0.3, 0.0);
    const n = 40000;
    const tiled = new Float32Array(n * 4);
    for (let i = 0; i < n; i++) tiled.set(probs, i * 4);
    const a = sampleCategorical(tiled, 4, 1, new Rng(3));
    const counts = [0, 0, 0, 0];
    for (const x of a) counts[x]++;
    expect(counts[3]).to.equal(0);
    const chi2 = [0, 1, 2].reduce((s, c) => s + (counts[c] - n * probs[c]) ** 2 / (n * probs[c]), 0);
    expect(chi2).to.be.lessThan(13.8); // 2 degrees of freedom, p = 0.001
  });

  it('lays k samples out sample-major and is reproducible from the seed', () => {
    const probs = f32(0.5, 0.5, 0.9, 0.1);
    const a = sampleCategorical(probs, 2, 3, new Rng(1));
    expect(a.length).to.equal(6);
    expect(Array.from(a)).to.deep.equal(Array.from(sampleCategorical(probs, 2, 3, new Rng(1))));
  });

  it('never picks a class with zero mass, even when rounding leaves the sum below 1', () => {
    const probs = f32(0.3333333, 0.3333333, 0.3333333, 0);
    const a = sampleCategorical(
      Float32Array.from({ length: 4000 }, (_, i) => probs[i % 4]),
      4,
      1,
      new Rng(0),
    );
    expect(Array.from(a).every((x) => x < 3)).to.equal(true);
  });

  it('takes the argmax per row, lowest class on ties', () => {
    expect(Array.from(argmaxRows([0, 2, 2, 5, 1, 0], 3))).to.deep.equal([1, 0]);
  });
});

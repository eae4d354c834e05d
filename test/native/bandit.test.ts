import { expect } from 'chai';
import { nativeAddon, withoutNative } from '../../src/native/index.js';
import { sampleCategorical } from '../../agents/nets/sampling.js';
import { computeAdvantages, policyWeights, type AdvantageInput } from '../../agents/advantage.js';
import { averageScore } from '../../rewards/average.js';
import { differenceCredit } from '../../rewards/credit.js';
import { ConfusionMatrix, countClasses, type ClassCounts } from '../../src/metrics/index.js';
import { Rng } from '../../src/core/rng.js';
import { BulkRandom } from '../../agents/vit/random.js';
import type { BaselineKind } from '../../agents/config.js';

/** `fn` once with the native loops and once in JS; both results, for a bit-for-bit comparison. */
function both<T>(fn: () => T): [T, T] {
  return [fn(), withoutNative(fn)];
}

describe('native REINFORCE loops (src/native/bandit.cc) give the JS results bit for bit', () => {
  before(function () {
    if (!nativeAddon()) this.skip();
  });

  it('sample the same labellings, also for rows with zeros, rows summing below 1 and NaN rows', () => {
    const rng = new Rng('bandit/sample');
    const C = 11;
    const n = 5000;
    const probs = new Float32Array(n * C);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += probs[i * C + c] = i % 5 === 0 && c > 6 ? 0 : rng.next() ** 4;
      // Every third row sums to a little under 1, so draws near 1 take the fallback.
      for (let c = 0; c < C; c++) probs[i * C + c] /= i % 3 === 0 ? s * 1.0001 : s;
    }
    probs.fill(NaN, 7 * C, 8 * C);
    const [native, js] = both(() => sampleCategorical(probs, C, 4, new Rng('draws')));
    expect(native).to.deep.equal(js);
    expect(new Set(native).size).to.equal(C);
  });

  const baselines: BaselineKind[] = ['none', 'ema', 'self-critical', 'rloo', 'critic'];
  for (const baseline of baselines) {
    for (const perPixel of [true, false]) {
      it(`compute the same ${baseline} advantages and policy weights (${perPixel ? 'pixel' : 'image'} signal, mask, normalised or not)`, () => {
        const rng = new Rng(`bandit/${baseline}/${perPixel}`);
        const [K, B, P, C] = [3, 4, 50, 11];
        const unit = perPixel ? P : 1;
        const signal = Float32Array.from({ length: K * B * unit }, () => rng.normal());
        const mask = Uint8Array.from({ length: B * P }, () => (rng.next() < 0.9 ? 1 : 0));
        const actions = Int32Array.from({ length: K * B * P }, () => rng.int(0, C));
        for (const normalize of [false, true]) {
          const inp: AdvantageInput = {
            K,
            B,
            P,
            baseline,
            signal,
            ema: 0.25,
            greedy: Float32Array.from({ length: B * unit }, () => rng.normal()),
            value: Float32Array.from({ length: B }, () => rng.normal()),
            mask: perPixel ? mask : undefined,
            normalize,
          };
          const [native, js] = both(() => computeAdvantages(inp));
          expect(native).to.deep.equal(js);
          const [wn, wj] = both(() => policyWeights(actions, native, K, B, P, C, mask));
          expect(wn).to.deep.equal(wj);
        }
      });
    }
  }

  it('count the same confusion matrix (ignore label skipped, 3 and 20 classes too) and name the same bad pixel', () => {
    const rng = new Rng('bandit/counts');
    const n = 4099;
    for (const C of [3, 11, 20]) {
      const target = Int32Array.from({ length: n }, () => (rng.next() < 0.05 ? 255 : rng.int(0, C)));
      const pred = Int32Array.from({ length: n }, (_, i) =>
        rng.next() < 0.6 ? target[i] % C : rng.int(0, C),
      );
      const [native, js] = both(() => new ConfusionMatrix(C, 255).add(pred, target).add(pred, target));
      expect(native.counts).to.deep.equal(js.counts);
      expect(native.total).to.equal(js.total).and.to.be.greaterThan(n);
      expect(native.at(1, 2), 'row = truth, column = prediction').to.equal(
        2 * pred.filter((p, i) => p === 2 && target[i] === 1).length,
      );
      const [nc, jc] = both(() => countClasses(pred, target, C, 255, "reward plugin 'dice'"));
      expect(nc).to.deep.equal(jc);
    }
    const target = Int32Array.from({ length: n }, () => rng.int(0, 11));
    const pred = target.slice();
    for (const [where, at, value] of [
      [pred, 1234, 11],
      [pred, 1234, -1],
      [target, 2000, 12],
    ] as const) {
      const was = where[at];
      where[at] = value;
      const messages = both(() => {
        const cm = new ConfusionMatrix(11, 255);
        try {
          cm.add(pred, target);
          return 'no error';
        } catch (e) {
          return `${(e as Error).message} / counts ${cm.total}`;
        }
      });
      where[at] = was;
      expect(messages[0])
        .to.equal(messages[1])
        .and.to.match(new RegExp(`pixel ${at} has label ${value}, outside \\[0, 11\\) / counts 0`));
    }
  });

  it('give the same difference credit, also for a pair the counts did not foresee', () => {
    const rng = new Rng('bandit/difference');
    const n = 4096;
    const target = Int32Array.from({ length: n }, () => (rng.next() < 0.05 ? 255 : rng.int(0, 11)));
    const pred = Int32Array.from({ length: n }, (_, i) =>
      rng.next() < 0.6 ? target[i] % 11 : rng.int(0, 11),
    );
    const score = (c: ClassCounts) =>
      averageScore(c, [...Array(11).keys()], { kind: 'f1', average: 'macro', absent: 'skip', smooth: 0 });
    const credit = () =>
      differenceCredit(pred, target, countClasses(pred, target, 11, 255, 'f1'), 11, 255, score);
    const [native, js] = both(credit);
    expect(native).to.deep.equal(js);
    expect(native.some((x) => x !== 0)).to.equal(true);
    // Counts of another image (class 10 never predicted there): its pairs are scored when met.
    const other = countClasses(
      pred.map((p) => (p === 10 ? 0 : p)),
      target,
      11,
      255,
      'f1',
    );
    const [n2, j2] = both(() =>
      differenceCredit(
        pred,
        target,
        { tp: other.tp.slice(), predicted: other.predicted.slice(), truth: other.truth.slice() },
        11,
        255,
        score,
      ),
    );
    expect(n2).to.deep.equal(j2);
  });

  it('make the same dropout masks and leave the generator in the same state', () => {
    for (const rate of [0.1, 0.5, 0.9]) {
      const [native, js] = both(() => {
        const bulk = new BulkRandom(new Rng(`dropout/${rate}`));
        return [bulk.dropoutMask(10_007, rate), bulk.dropoutMask(33, rate)];
      });
      expect(native).to.deep.equal(js);
    }
  });

  it('refuse arrays shorter than their shapes and actions outside the classes', () => {
    const addon = nativeAddon()!;
    expect(() => addon.sample(new Float32Array(10), new Float64Array(1), 11, 1, new Int32Array(1))).to.throw(
      /whole number of rows/,
    );
    expect(() => addon.sample(new Float32Array(22), new Float64Array(3), 11, 2, new Int32Array(4))).to.throw(
      /shorter than k\*n/,
    );
    const W = new Float32Array(11);
    expect(() =>
      addon.policyWeights(Int32Array.of(11), Float32Array.of(1), true, 1, 1, 1, 11, null, 1, W),
    ).to.throw(/not a class/);
    expect(() => addon.rlooBaseline(new Float32Array(4), 1, 4, new Float32Array(4))).to.throw(/K < 2/);
    expect(() =>
      addon.confusion(new Int32Array(4), new Int32Array(3), 11, 255, new Float64Array(121)),
    ).to.throw(/target shorter/);
  });
});

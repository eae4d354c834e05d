import { expect } from 'chai';
import { estimate, holm, mean, pairedT, sampleStd, tCritical, welch } from '../../src/report/stats.js';

describe('report statistics', () => {
  it('computes the mean and the sample (n - 1) standard deviation', () => {
    expect(mean([1, 2, 3, 4])).to.equal(2.5);
    expect(sampleStd([2, 4, 4, 4, 5, 5, 7, 9])).to.be.closeTo(2.138089935, 1e-9);
    expect(sampleStd([3])).to.equal(null);
  });

  it('uses the Student t critical value (t(0.975, 2) = 4.3027 from tables)', () => {
    expect(tCritical(0.95, 2)).to.be.closeTo(4.302652729749462, 1e-12);
    expect(tCritical(0.95, 1e6)).to.be.closeTo(1.959964, 1e-5);
  });

  it('gives the 95% interval of [1,2,3] as 2 ± t(0.975,2) * 1/sqrt(3)', () => {
    const e = estimate([1, 2, 3]);
    const h = (4.302652729749462 * 1) / Math.sqrt(3);
    expect(e.mean).to.equal(2);
    expect(e.std).to.equal(1);
    expect(e.halfWidth).to.be.closeTo(h, 1e-12);
    expect(e.ci![0]).to.be.closeTo(2 - h, 1e-12);
    expect(e.ci![1]).to.be.closeTo(2 + h, 1e-12);
    expect(e.note).to.equal(undefined);
  });

  it('leaves the interval undefined for one seed and says why', () => {
    const e = estimate([0.7]);
    expect(e).to.include({ n: 1, mean: 0.7, std: null, halfWidth: null, ci: null });
    expect(e.note).to.match(/one seed/);
  });

  it('gives a zero-width interval for identical values and says so', () => {
    const e = estimate([0.5, 0.5, 0.5]);
    expect(e.halfWidth).to.equal(0);
    expect(e.ci).to.deep.equal([0.5, 0.5]);
    expect(e.note).to.match(/identical/);
  });

  it("matches scipy's Welch t-test on two small samples", () => {
    // scipy.stats.ttest_ind([1,2,3,4,5], [2,4,6,8,10], equal_var=False):
    //   t = -1.8973665961010275, p = 0.10753119493062728, df = 5.882352941176471,
    //   95% CI of the difference (-6.887741643736975, 0.887741643736975)
    const d = welch([1, 2, 3, 4, 5], [2, 4, 6, 8, 10]);
    expect(d.diff).to.equal(-3);
    expect(d.t).to.be.closeTo(-1.8973665961010275, 1e-12);
    expect(d.df).to.be.closeTo(5.882352941176471, 1e-12);
    expect(d.pValue).to.be.closeTo(0.10753119493062728, 1e-9);
    expect(d.ci![0]).to.be.closeTo(-6.887741643736975, 1e-9);
    expect(d.ci![1]).to.be.closeTo(0.887741643736975, 1e-9);
  });

  it('matches scipy on seed-like F1 values (p = 0.01946)', () => {
    // scipy: ttest_ind([0.61,0.63,0.62],[0.55,0.58,0.54], equal_var=False)
    const d = welch([0.61, 0.63, 0.62], [0.55, 0.58, 0.54]);
    expect(d.t).to.be.closeTo(4.75, 1e-9);
    expect(d.pValue).to.be.closeTo(0.019459351754697887, 1e-9);
    expect(d.ci![0]).to.be.closeTo(0.01985036765251022, 1e-9);
    expect(d.ci![1]).to.be.closeTo(0.10681629901415648, 1e-9);
  });

  it('compares against a zero-variance floor using the other side only', () => {
    const d = welch([0.6, 0.62, 0.64], [0.1, 0.1, 0.1]);
    expect(d.df).to.be.closeTo(2, 1e-12); // all variance from a: df = nA - 1
    expect(d.pValue).to.be.greaterThan(0).and.lessThan(0.001);
  });

  it('refuses a p-value when there is nothing to test', () => {
    expect(welch([0.5], [0.4, 0.45])).to.include({ pValue: null, ci: null });
    const exact = welch([0.3, 0.3], [0.1, 0.1]);
    expect(exact.pValue).to.equal(null);
    expect(exact.ci![0]).to.be.closeTo(0.2, 1e-12);
    expect(exact.note).to.match(/exact/);
  });

  it("matches scipy's paired t-test (ttest_rel) on seed-matched values", () => {
    // scipy: ttest_rel([0.61,0.63,0.62],[0.55,0.58,0.54]) -> t = 7.181324987175332,
    //   p = 0.01884421896078765, df = 2, CI (0.025387502997365807, 0.10127916366930081)
    const d = pairedT([0.61, 0.63, 0.62], [0.55, 0.58, 0.54]);
    expect(d.t).to.be.closeTo(7.181324987175332, 1e-9);
    expect(d.df).to.equal(2);
    expect(d.pValue).to.be.closeTo(0.01884421896078765, 1e-9);
    expect(d.ci![0]).to.be.closeTo(0.025387502997365807, 1e-9);
    expect(d.ci![1]).to.be.closeTo(0.10127916366930081, 1e-9);
    expect(pairedT([0.5, 0.6], [0.4, 0.5])).to.include({ pValue: null }); // same difference on every seed
    expect(() => pairedT([1, 2], [1])).to.throw(RangeError);
  });

  it('adjusts p-values with Holm-Bonferroni, keeping the order and nulls', () => {
    const adj = holm([0.01, 0.04, null, 0.03]);
    expect(adj[0]).to.be.closeTo(0.03, 1e-12);
    expect(adj[1]).to.be.closeTo(0.06, 1e-12);
    expect(adj[2]).to.equal(null);
    expect(adj[3]).to.be.closeTo(0.06, 1e-12);
  });
});

import { expect } from 'chai';
import { classWeightsFromShares } from '../../src/data/class-weights.js';
import { FprlError } from '../../src/core/errors.js';

describe('data: class weights from pixel shares', () => {
  it('inverse: 1 / share, scaled to mean 1 over the classes present; an absent class weighs 0', () => {
    const w = classWeightsFromShares([0.25, 0.25, 0.5, 0], 'inverse');
    expect(w.map((x) => +x.toFixed(6))).to.deep.equal([1.2, 1.2, 0.6, 0]);
  });

  it('inverse-sqrt: 1 / sqrt(share), the same scaling (hand-computed)', () => {
    // raw 2, 2, sqrt(2), 0; mean over present (4 + sqrt 2) / 3
    const m = (4 + Math.SQRT2) / 3;
    const w = classWeightsFromShares([0.25, 0.25, 0.5, 0], 'inverse-sqrt');
    expect(w[0]).to.be.closeTo(2 / m, 1e-12);
    expect(w[2]).to.be.closeTo(Math.SQRT2 / m, 1e-12);
    expect(w[3]).to.equal(0);
  });

  it('does not depend on the scale of the shares (counts give the same weights)', () => {
    const a = classWeightsFromShares([0.1, 0.3, 0.6], 'inverse-sqrt');
    const b = classWeightsFromShares([100, 300, 600], 'inverse-sqrt');
    a.forEach((x, i) => expect(x).to.be.closeTo(b[i], 1e-12));
  });

  it('refuses an unknown weighting and a split without pixels, saying what to do', () => {
    expect(() => classWeightsFromShares([1], 'log' as never))
      .to.throw(FprlError, /unknown class weighting 'log'/)
      .with.property('hint')
      .that.matches(/inverse-sqrt/);
    expect(() => classWeightsFromShares([0, 0], 'inverse')).to.throw(FprlError, /no class has any pixels/);
  });
});

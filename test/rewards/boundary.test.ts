import { expect } from 'chai';
import { boundaryF1Reward } from '../../rewards/index.js';
import { ctxOf, score } from './helpers.js';

// 4x4, two classes; only class 1 is scored (background excluded by default).
const TARGET = [
  0, 0, 0, 0,
  0, 1, 1, 0,
  0, 1, 1, 0,
  0, 0, 0, 0,
]; // prettier-ignore
// The square shifted one pixel right: its outline touches the image edge.
const SHIFTED = [
  0, 0, 0, 0,
  0, 0, 1, 1,
  0, 0, 1, 1,
  0, 0, 0, 0,
]; // prettier-ignore
const CTX = ctxOf(4, 4, 2);

describe('rewards: boundary-f1', () => {
  const bf = boundaryF1Reward();

  it('scores a perfect labelling 1', () => {
    expect(score(bf, TARGET, TARGET, CTX)).to.equal(1);
  });

  it('matches only the shared outline pixels with tolerance 0 (hand-computed 1/2)', () => {
    // true outline: the 4 square pixels; predicted: its 4 pixels; 2 shared -> P = R = 1/2
    expect(score(bf, SHIFTED, TARGET, CTX, { tolerance: 0 })).to.equal(0.5);
  });

  it('forgives a one-pixel shift with tolerance 1', () => {
    expect(score(bf, SHIFTED, TARGET, CTX, { tolerance: 1 })).to.equal(1);
  });

  it('drops predicted outline pixels on ignored targets (hand-computed 4/7)', () => {
    const target = TARGET.slice();
    target[7] = 255; // row 1, column 3: a predicted outline pixel
    // predicted outline 3 pixels, 2 matched -> P = 2/3; true outline 4 pixels, 2 matched -> R = 1/2
    expect(score(bf, SHIFTED, target, CTX, { tolerance: 0 })).to.be.closeTo(4 / 7, 1e-12);
  });

  it('scores 0 when a class is predicted where it is not', () => {
    expect(score(bf, SHIFTED, new Array(16).fill(0), CTX, { tolerance: 3 })).to.equal(0);
  });

  it('treats a class with no outline in either map as absent', () => {
    const empty = new Array(16).fill(0);
    expect(score(bf, empty, empty, CTX)).to.equal(1);
    expect(score(bf, empty, empty, CTX, { absent: 'zero' })).to.equal(0);
  });

  it('averages classes: the background outline counts when included', () => {
    // class 0 outline: true 8 pixels around the square; predicted 8 around the shifted square
    const both = score(bf, SHIFTED, TARGET, CTX, { tolerance: 0, includeBackground: true });
    const fg = score(bf, SHIFTED, TARGET, CTX, { tolerance: 0 });
    const bg = score(bf, SHIFTED, TARGET, CTX, { tolerance: 0, classes: [0] });
    expect(both).to.be.closeTo((fg + bg) / 2, 1e-12);
    expect(bg).to.be.within(0, 1);
  });
});

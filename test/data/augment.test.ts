import { expect } from 'chai';
import { FLIP_PERMUTATION, IGNORE_INDEX } from '../../src/classes.js';
import { augmentSample, flipSample, resolveAugment } from '../../src/data/index.js';
import { FprlError } from '../../src/errors.js';
import { Rng } from '../../src/rng.js';
import type { Sample } from '../../src/types.js';

/** 8x8: left brow and left eye on the image left, right brow and right eye on the right. */
function faceSample(): Sample {
  const H = 8;
  const W = 8;
  const label = new Uint8Array(H * W).fill(1);
  label[1 * W + 1] = 2; // left brow
  label[1 * W + 6] = 3; // right brow
  label[3 * W + 1] = 4; // left eye
  label[3 * W + 6] = 5; // right eye
  label[6 * W + 3] = 7;
  label[7 * W + 0] = IGNORE_INDEX;
  const image = new Float32Array(H * W * 3);
  for (let i = 0; i < image.length; i++) image[i] = (i % 17) / 8.5 - 1;
  return { id: 'f', image, label, height: H, width: W };
}

const OFF = { flip: 0, scale: [1, 1] as [number, number], rotate: 0, shift: 0, colorJitter: false as const };

describe('data: augmentation', () => {
  it('flips horizontally and swaps left and right brows and eyes', () => {
    const s = faceSample();
    const f = flipSample(s);
    expect(f.label[1 * 8 + 6]).to.equal(3); // the left brow, mirrored to the right, is now the right brow
    expect(f.label[1 * 8 + 1]).to.equal(2);
    expect(f.label[6 * 8 + 3]).to.equal(1);
    expect(f.label[3 * 8 + 6]).to.equal(5);
    expect(f.label[3 * 8 + 1]).to.equal(4);
    expect(f.label[6 * 8 + 4]).to.equal(7); // other classes keep their value
    expect(f.label[7 * 8 + 7]).to.equal(IGNORE_INDEX);
    expect(f.image[(2 * 8 + 7) * 3 + 1]).to.equal(s.image[(2 * 8 + 0) * 3 + 1]);
    const back = flipSample(f);
    expect(Array.from(back.label)).to.deep.equal(Array.from(s.label));
    expect(Array.from(back.image)).to.deep.equal(Array.from(s.image));
    expect(FLIP_PERMUTATION[2]).to.equal(3);
  });

  it('flips through the warp exactly like flipSample when nothing else is on', () => {
    const s = faceSample();
    let flipped = 0;
    for (let seed = 0; seed < 20; seed++) {
      const a = augmentSample(s, resolveAugment({ ...OFF, flip: 0.5, rotate: 0.0001 }), new Rng(seed));
      if (a.label[6 * 8 + 4] === 7) {
        flipped++;
        expect(Array.from(a.label)).to.deep.equal(Array.from(flipSample(s).label));
      } else {
        expect(Array.from(a.label)).to.deep.equal(Array.from(s.label));
      }
    }
    expect(flipped).to.be.within(3, 17);
  });

  it('is deterministic for a seed and leaves the input untouched', () => {
    const s = faceSample();
    const copy = Array.from(s.image);
    const opts = resolveAugment({});
    const a = augmentSample(s, opts, new Rng(5, 'aug'));
    const b = augmentSample(s, opts, new Rng(5, 'aug'));
    expect(Array.from(a.image)).to.deep.equal(Array.from(b.image));
    expect(Array.from(a.label)).to.deep.equal(Array.from(b.label));
    expect(Array.from(s.image)).to.deep.equal(copy);
  });

  it('keeps labels exact under scale, rotation and shift, and marks pixels from outside as ignore', () => {
    const s = faceSample();
    const allowed = new Set([...s.label, IGNORE_INDEX, ...s.label.map((v) => FLIP_PERMUTATION[v] ?? v)]);
    const opts = resolveAugment({ scale: [0.6, 0.7], rotate: 30, shift: 0.2, colorJitter: false });
    let outside = 0;
    for (let seed = 0; seed < 10; seed++) {
      const a = augmentSample(s, opts, new Rng(seed));
      for (const v of a.label) expect(allowed.has(v)).to.equal(true);
      outside += a.label.filter((v) => v === IGNORE_INDEX).length;
      for (const v of a.image) expect(v >= -1 && v <= 1).to.equal(true);
    }
    expect(outside).to.be.greaterThan(10);
    const bg = augmentSample(
      s,
      resolveAugment({ ...OFF, scale: [0.5, 0.5], outOfFrame: 'background' }),
      new Rng(0),
    );
    expect(bg.label[0]).to.equal(0);
    expect(bg.image[0]).to.equal(0);
  });

  it('jitters colours within the normalised range without touching labels', () => {
    const s = faceSample();
    const a = augmentSample(
      s,
      resolveAugment({ ...OFF, colorJitter: { brightness: 0.5, contrast: 0.5, saturation: 0.5 } }),
      new Rng(1),
    );
    expect(Array.from(a.label)).to.deep.equal(Array.from(s.label));
    expect(Array.from(a.image)).to.not.deep.equal(Array.from(s.image));
    for (const v of a.image) expect(v >= -1 && v <= 1).to.equal(true);
  });

  it('rejects out-of-range options naming the field', () => {
    expect(() => resolveAugment({ flip: 2 })).to.throw(FprlError, /flip/);
    expect(() => resolveAugment({ scale: [1.2, 0.8] })).to.throw(FprlError, /scale/);
    expect(() => resolveAugment({ colorJitter: { contrast: -1 } })).to.throw(FprlError, /contrast/);
    try {
      resolveAugment({ rotate: 500 });
    } catch (e) {
      expect((e as FprlError).where).to.equal('augment.rotate');
    }
  });
});

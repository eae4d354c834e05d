import { expect } from 'chai';
import { CLASS_NAMES, NUM_CLASSES } from '../../src/core/classes.js';
import { IMAGE_RANGE, SyntheticFaces, benchSynthetic, denormalizeImage } from '../../src/data/index.js';
import { FprlError } from '../../src/core/errors.js';

function classCounts(label: Uint8Array): number[] {
  const c = new Array<number>(256).fill(0);
  for (const v of label) c[v]++;
  return c;
}

describe('data: synthetic faces', () => {
  it('gives the same bytes for the same (seed, split, index) and different images for another seed', async () => {
    const a = new SyntheticFaces({ size: 64, count: 4, seed: 7 });
    const b = new SyntheticFaces({ size: 64, count: 4, seed: 7 });
    const c = new SyntheticFaces({ size: 64, count: 4, seed: 8 });
    for (let i = 0; i < 4; i++) {
      const [sa, sb, sc] = await Promise.all([a.get(i), b.get(i), c.get(i)]);
      expect(Buffer.from(sa.image.buffer).equals(Buffer.from(sb.image.buffer))).to.equal(true);
      expect(Buffer.from(sa.label).equals(Buffer.from(sb.label))).to.equal(true);
      expect(Buffer.from(sa.image.buffer).equals(Buffer.from(sc.image.buffer))).to.equal(false);
    }
  });

  it('gives different faces in different splits and at different indices', () => {
    const train = new SyntheticFaces({ size: 32, count: 2, seed: 1, split: 'train' });
    const val = new SyntheticFaces({ size: 32, count: 2, seed: 1, split: 'val' });
    expect(Buffer.from(train.render(0).rgb).equals(Buffer.from(val.render(0).rgb))).to.equal(false);
    expect(Buffer.from(train.render(0).rgb).equals(Buffer.from(train.render(1).rgb))).to.equal(false);
  });

  it('does not depend on the order samples are drawn in', () => {
    const ds = new SyntheticFaces({ size: 32, count: 5, seed: 3 });
    const forward = [0, 1, 2, 3, 4].map((i) => Buffer.from(ds.render(i).rgb));
    const other = new SyntheticFaces({ size: 32, count: 5, seed: 3 });
    for (const i of [4, 2, 0, 3, 1])
      expect(Buffer.from(other.render(i).rgb).equals(forward[i])).to.equal(true);
  });

  it('draws the same face at any resolution (labels at 64 px match nearest-downsampled 128 px labels)', () => {
    const small = new SyntheticFaces({ size: 64, count: 3, seed: 5 });
    const large = new SyntheticFaces({ size: 128, count: 3, seed: 5 });
    for (let i = 0; i < 3; i++) {
      const s = small.render(i).label;
      const l = large.render(i).label;
      let same = 0;
      for (let y = 0; y < 64; y++)
        for (let x = 0; x < 64; x++) if (s[y * 64 + x] === l[(2 * y + 1) * 128 + 2 * x + 1]) same++;
      // Only pixels on part boundaries can differ (their centres move by half a small pixel).
      expect(same / 4096).to.be.greaterThan(0.9);
    }
  });

  it('yields normalised images in IMAGE_RANGE and labels in 0..10', async () => {
    const ds = new SyntheticFaces({ size: 48, count: 3, seed: 2 });
    const s = await ds.get(2);
    expect(s.image.length).to.equal(48 * 48 * 3);
    expect(s.label.length).to.equal(48 * 48);
    expect(s.id).to.equal('train-2');
    for (const v of s.image) expect(v >= IMAGE_RANGE[0] && v <= IMAGE_RANGE[1]).to.equal(true);
    for (const v of s.label) expect(v).to.be.lessThan(NUM_CLASSES);
    expect(Buffer.from(denormalizeImage(s.image)).equals(Buffer.from(ds.render(2).rgb))).to.equal(true);
  });

  it('has every class across a batch of 32 at 64 px, with the small parts small', () => {
    const ds = new SyntheticFaces({ size: 64, count: 32, seed: 11 });
    const total = new Array<number>(256).fill(0);
    const present = new Array<number>(NUM_CLASSES).fill(0);
    for (let i = 0; i < 32; i++) {
      const c = classCounts(ds.render(i).label);
      c.forEach((v, k) => (total[k] += v));
      for (let k = 0; k < NUM_CLASSES; k++) if (c[k] > 0) present[k]++;
    }
    const pixels = 32 * 64 * 64;
    for (let k = 0; k < NUM_CLASSES; k++) expect(present[k], CLASS_NAMES[k]).to.be.greaterThan(0);
    expect(total.slice(NUM_CLASSES).reduce((a, b) => a + b, 0)).to.equal(0);
    // Brows, eyes, lips and inner mouth are each under 1% of the pixels; nose under 3%.
    for (const k of [2, 3, 4, 5, 7, 8, 9]) expect(total[k] / pixels, CLASS_NAMES[k]).to.be.lessThan(0.01);
    expect(total[6] / pixels).to.be.lessThan(0.03);
    // Background, skin and hair are the big classes; eyes are present in almost every face.
    for (const k of [0, 1, 10]) expect(total[k] / pixels, CLASS_NAMES[k]).to.be.greaterThan(0.05);
    expect(present[4]).to.be.greaterThan(28);
  });

  it('keeps left parts on the image left and right parts on the image right', () => {
    const ds = new SyntheticFaces({ size: 64, count: 24, seed: 4 });
    for (let i = 0; i < 24; i++) {
      const { label } = ds.render(i);
      const meanX = (cls: number) => {
        let s = 0;
        let n = 0;
        label.forEach((v, j) => {
          if (v === cls) {
            s += j % 64;
            n++;
          }
        });
        return n ? s / n : NaN;
      };
      const [le, re] = [meanX(4), meanX(5)];
      if (!Number.isNaN(le) && !Number.isNaN(re)) expect(le).to.be.lessThan(re);
      const [lb, rb] = [meanX(2), meanX(3)];
      if (!Number.isNaN(lb) && !Number.isNaN(rb)) expect(lb).to.be.lessThan(rb);
    }
  });

  it('shows the inner mouth only in faces whose mouth is open', () => {
    const ds = new SyntheticFaces({ size: 96, count: 40, seed: 9 });
    let open = 0;
    for (let i = 0; i < 40; i++) {
      const hasInner = classCounts(ds.render(i).label)[8] > 0;
      const isOpen = ds.scene(i).meta.mouthOpen;
      if (!isOpen) expect(hasInner, `face ${i}`).to.equal(false);
      if (isOpen) open++;
    }
    expect(open).to.be.greaterThan(5);
  });

  it('varies hair styles, including fringes that hide the brows', () => {
    const ds = new SyntheticFaces({ size: 64, count: 60, seed: 6 });
    const styles = new Set<string>();
    let hiddenBrows = 0;
    for (let i = 0; i < 60; i++) {
      const { hairStyle } = ds.scene(i).meta;
      styles.add(hairStyle);
      const c = classCounts(ds.render(i).label);
      if (hairStyle === 'none') expect(c[10], `face ${i} has no hair`).to.equal(0);
      if (hairStyle === 'fringe' && c[2] + c[3] === 0) hiddenBrows++;
    }
    expect([...styles].sort()).to.deep.equal(['fringe', 'long', 'none', 'short']);
    expect(hiddenBrows).to.be.greaterThan(0);
  });

  it('rejects bad options and out-of-range indices with clear errors', async () => {
    expect(() => new SyntheticFaces({ size: 4, count: 1, seed: 0 })).to.throw(FprlError, /size/);
    expect(() => new SyntheticFaces({ size: 32, count: -1, seed: 0 })).to.throw(FprlError, /count/);
    const ds = new SyntheticFaces({ size: 32, count: 2, seed: 0 });
    let err: unknown;
    try {
      await ds.get(2);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(FprlError);
    expect((err as Error).message).to.match(/out of range/);
  });

  it('has a benchmark that reports images per second', () => {
    const rate = benchSynthetic(32, 10);
    expect(rate).to.be.a('number');
    expect(rate).to.be.greaterThan(0);
  });
});

import { expect } from 'chai';
import { CLASS_NAMES, NUM_CLASSES } from '../../src/core/classes.js';
import { SyntheticFaces } from '../../src/data/index.js';
import { FprlError } from '../../src/core/errors.js';

type Difficulty = NonNullable<ConstructorParameters<typeof SyntheticFaces>[0]['difficulty']>;

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/** Where the eyes are: the midpoint of the two eye centroids (fractions of the side) and the roll of the eye line (degrees). */
function eyes(label: Uint8Array, size: number): { x: number; y: number; roll: number } | undefined {
  const centroid = (cls: number) => {
    let [n, sx, sy] = [0, 0, 0];
    label.forEach((v, j) => {
      if (v === cls) [n, sx, sy] = [n + 1, sx + (j % size), sy + Math.floor(j / size)];
    });
    return n ? { x: sx / n, y: sy / n } : undefined;
  };
  const [l, r] = [centroid(4), centroid(5)];
  if (!l || !r) return undefined;
  const roll = (Math.atan2(r.y - l.y, r.x - l.x) * 180) / Math.PI;
  return { x: (l.x + r.x) / 2 / size, y: (l.y + r.y) / 2 / size, roll };
}

function spread(values: number[]): number {
  const m = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, b) => a + (b - m) ** 2, 0) / values.length);
}

describe('data: synthetic faces, difficulty', () => {
  it("defaults to 'hard', the original faces", () => {
    const byDefault = new SyntheticFaces({ size: 32, count: 3, seed: 5 });
    const hard = new SyntheticFaces({ size: 32, count: 3, seed: 5, difficulty: 'hard' });
    expect(byDefault.difficulty).to.equal('hard');
    for (let i = 0; i < 3; i++) {
      const [a, b] = [byDefault.render(i), hard.render(i)];
      expect(same(a.rgb, b.rgb) && same(a.label, b.label)).to.equal(true);
    }
  });

  it('is deterministic per (seed, split, index, difficulty), whatever the drawing order', () => {
    for (const difficulty of SyntheticFaces.difficulties) {
      const a = new SyntheticFaces({ size: 32, count: 4, seed: 3, split: 'val', difficulty });
      const b = new SyntheticFaces({ size: 32, count: 4, seed: 3, split: 'val', difficulty });
      const forward = [0, 1, 2, 3].map((i) => a.render(i));
      for (const i of [3, 1, 0, 2]) {
        const r = b.render(i);
        expect(same(r.rgb, forward[i].rgb) && same(r.label, forward[i].label), `${difficulty} ${i}`).to.equal(
          true,
        );
      }
      const other = new SyntheticFaces({ size: 32, count: 1, seed: 4, split: 'val', difficulty });
      expect(same(other.render(0).rgb, forward[0].rgb)).to.equal(false);
    }
  });

  it('gives different faces at each difficulty for the same (seed, split, index)', () => {
    const render = (difficulty: Difficulty) =>
      new SyntheticFaces({ size: 32, count: 4, seed: 1, difficulty }).render(2);
    const [easy, medium, hard] = [render('easy'), render('medium'), render('hard')];
    expect(same(easy.rgb, hard.rgb)).to.equal(false);
    expect(same(easy.label, hard.label)).to.equal(false);
    expect(same(medium.rgb, hard.rgb)).to.equal(false);
    expect(same(medium.rgb, easy.rgb)).to.equal(false);
  });

  it('has every class with exact labels across a batch of 32 easy faces at 32 px, the small parts small', () => {
    const ds = new SyntheticFaces({ size: 32, count: 32, seed: 11, difficulty: 'easy' });
    const total = new Array<number>(256).fill(0);
    for (let i = 0; i < 32; i++) for (const v of ds.render(i).label) total[v]++;
    for (let k = 0; k < NUM_CLASSES; k++) expect(total[k], CLASS_NAMES[k]).to.be.greaterThan(0);
    expect(
      total.slice(NUM_CLASSES).reduce((a, b) => a + b, 0),
      'no label outside 0..10',
    ).to.equal(0);
    const pixels = 32 * 32 * 32;
    for (const k of [2, 3, 4, 5, 7, 8, 9]) expect(total[k] / pixels, CLASS_NAMES[k]).to.be.lessThan(0.01);
    expect(total[6] / pixels, 'nose').to.be.lessThan(0.03);
  });

  it('centres and straightens the faces on easy, with fewer shapes in the scene than on hard', () => {
    const stats = (difficulty: Difficulty) => {
      const ds = new SyntheticFaces({ size: 64, count: 48, seed: 2, difficulty });
      const found = Array.from({ length: 48 }, (_, i) => eyes(ds.render(i).label, 64)).filter(
        (e) => e !== undefined,
      );
      const shapes = Array.from({ length: 48 }, (_, i) => ds.scene(i).shapes.length);
      return {
        x: spread(found.map((e) => e.x)),
        y: spread(found.map((e) => e.y)),
        maxRoll: Math.max(...found.map((e) => Math.abs(e.roll))),
        shapes: shapes.reduce((a, b) => a + b, 0) / shapes.length,
      };
    };
    const [easy, hard] = [stats('easy'), stats('hard')];
    // Measured: the eyes' position spreads about 0.03 of the side on easy, 0.05-0.057 on hard.
    expect(easy.x).to.be.lessThan(0.75 * hard.x);
    expect(easy.y).to.be.lessThan(0.75 * hard.y);
    // Roll is at most 8.6 degrees on easy (the eye line of a small eye adds pixel noise); hard reaches 20-26.
    expect(easy.maxRoll).to.be.lessThan(12);
    expect(hard.maxRoll).to.be.greaterThan(15);
    expect(easy.shapes).to.be.lessThan(hard.shapes - 2);
  });

  it('refuses an unknown difficulty, naming the option and the choices', () => {
    let err: unknown;
    try {
      new SyntheticFaces({ size: 32, count: 1, seed: 0, difficulty: 'trivial' as Difficulty });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(FprlError);
    expect((err as FprlError).where).to.equal('SyntheticFaces.difficulty');
    expect((err as FprlError).message).to.contain('easy, medium, hard');
  });
});

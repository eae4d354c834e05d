import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { FLIP_PERMUTATION, IGNORE_INDEX } from '../../src/core/classes.js';
import {
  augmentSample,
  BatchSampler,
  flipSample,
  resolveAugment,
  SyntheticFaces,
  warpSample,
  type AugmentOptions,
  type ArrayBatch,
} from '../../src/data/index.js';
import { FprlError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { evaluate } from '../../src/train/evaluate.js';
import type { Agent, Sample } from '../../src/core/types.js';
import { useBackend } from '../helpers/backend.js';

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

/** Every transform on and strong, hue and out-of-frame background included. */
const STRONG: AugmentOptions = {
  flip: 0.5,
  scale: [0.7, 1.3],
  rotate: 25,
  shift: 0.15,
  colorJitter: { brightness: 0.3, contrast: 0.3, saturation: 0.3, hue: 0.1 },
  outOfFrame: 'background',
};

/** H x W with labels drawn from every class (and a few ignore pixels) and random pixels. */
function randomSample(H: number, W: number, seed: number): Sample {
  const rng = new Rng(seed, 'random-sample');
  const label = new Uint8Array(H * W);
  for (let i = 0; i < label.length; i++) label[i] = rng.next() < 0.05 ? IGNORE_INDEX : rng.int(0, 11);
  const image = new Float32Array(H * W * 3);
  for (let i = 0; i < image.length; i++) image[i] = rng.uniform(-1, 1);
  return { id: `r${seed}`, image, label, height: H, width: W };
}

const bits = (a: Float32Array | Uint8Array | Int32Array): Buffer =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function sameSample(a: Sample, b: Sample): boolean {
  return bits(a.image).equals(bits(b.image)) && bits(a.label).equals(bits(b.label));
}

function hashBatch(b: ArrayBatch): string {
  return createHash('sha256')
    .update(bits(b.images))
    .update(bits(b.labels))
    .update(b.ids.join(','))
    .digest('hex')
    .slice(0, 16);
}

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

  it('is the identity, bit for bit, with every transform at strength 0, and each strength alone changes the sample', () => {
    const s = randomSample(12, 10, 1);
    const zero = {
      ...OFF,
      colorJitter: { brightness: 0, contrast: 0, saturation: 0, hue: 0 },
    };
    const one: Record<string, AugmentOptions> = {
      flip: { ...zero, flip: 1 },
      scale: { ...zero, scale: [1.2, 1.2] },
      rotate: { ...zero, rotate: 20 },
      shift: { ...zero, shift: 0.2 },
      brightness: { ...zero, colorJitter: { ...zero.colorJitter, brightness: 0.3 } },
      contrast: { ...zero, colorJitter: { ...zero.colorJitter, contrast: 0.3 } },
      saturation: { ...zero, colorJitter: { ...zero.colorJitter, saturation: 0.3 } },
      hue: { ...zero, colorJitter: { ...zero.colorJitter, hue: 0.2 } },
    };
    for (let seed = 0; seed < 5; seed++) {
      for (const opts of [zero, OFF]) {
        const a = augmentSample(s, resolveAugment(opts), new Rng(seed));
        expect(sameSample(a, s)).to.equal(true);
        expect(a.image).to.not.equal(s.image); // a copy, never the input
      }
      for (const [name, opts] of Object.entries(one)) {
        expect(sameSample(augmentSample(s, resolveAugment(opts), new Rng(seed)), s), name).to.equal(false);
      }
    }
    const still = { flip: false, scale: 1, angle: 0, tx: 0, ty: 0 };
    expect(sameSample(warpSample(s, still), s)).to.equal(true);
    expect(sameSample(warpSample(s, { ...still, flip: true }), flipSample(s))).to.equal(true);
  });

  it('rotates a known pixel to where the angle says: positive angles turn clockwise on screen', () => {
    const H = 32;
    const W = 32;
    const s: Sample = {
      id: 'dot',
      height: H,
      width: W,
      image: new Float32Array(H * W * 3),
      label: new Uint8Array(H * W),
    };
    const mark = (x: number, y: number) => {
      s.label[y * W + x] = 6;
      s.image.fill(1, (y * W + x) * 3, (y * W + x) * 3 + 3);
    };
    mark(26, 15); // 10.5 px right of the centre (16, 16), on the row through it
    const still = { flip: false, scale: 1, angle: 0, tx: 0, ty: 0 };
    // A quarter turn clockwise: right of the centre goes below it, (26, 15) -> (16, 26).
    const q = warpSample(s, { ...still, angle: Math.PI / 2 }, 0);
    expect(
      Array.from(q.label).flatMap((v, i) => (v === 6 ? [[i % W, Math.floor(i / W)]] : [])),
    ).to.deep.equal([[16, 26]]);
    expect(q.image[(26 * W + 16) * 3]).to.be.closeTo(1, 1e-6);
    // Half a turn: (x, y) -> (W-1-x, H-1-y), image and label.
    const h = warpSample(s, { ...still, angle: Math.PI }, 0);
    expect(h.label[16 * W + 5]).to.equal(6);
    expect(h.image[(16 * W + 5) * 3 + 2]).to.be.closeTo(1, 1e-6);
    // 30 degrees: the marked pixel's centre, (10.5, -0.5) from the image centre, turns to
    // (10.5 cos 30 + 0.5 sin 30, 10.5 sin 30 - 0.5 cos 30) = (9.34, 4.82): pixel (25, 20).
    const t = warpSample(s, { ...still, angle: Math.PI / 6 }, 0);
    const [c30, s30] = [Math.cos(Math.PI / 6), Math.sin(Math.PI / 6)];
    const want = [Math.floor(16 + 10.5 * c30 + 0.5 * s30), Math.floor(16 + 10.5 * s30 - 0.5 * c30)];
    expect(want).to.deep.equal([25, 20]);
    expect(
      Array.from(t.label).flatMap((v, i) => (v === 6 ? [[i % W, Math.floor(i / W)]] : [])),
    ).to.deep.equal([want]);
    // Scale 2 magnifies about the centre, then the shift moves the result: the pixel (20, 15),
    // centre (20.5, 15.5), 4.5 px right of and 0.5 above the image centre, becomes the 2x2 block
    // around 16 + 9 - 3 = 22, 16 - 1 + 2 = 17.
    s.label.fill(0);
    mark(20, 15);
    const z = warpSample(s, { ...still, scale: 2, tx: -3, ty: 2 }, 0);
    expect(
      Array.from(z.label).flatMap((v, i) => (v === 6 ? [[i % W, Math.floor(i / W)]] : [])),
    ).to.deep.equal([
      [21, 16],
      [22, 16],
      [21, 17],
      [22, 17],
    ]);
  });

  it('never blends labels: every output label is in the input (flip partners when flipped) or the out-of-frame label', () => {
    for (let k = 0; k < 4; k++) {
      const s = randomSample(24, 20, k);
      const present = new Set(s.label);
      const partners = new Set([...present].map((v) => FLIP_PERMUTATION[v] ?? v));
      for (let seed = 0; seed < 10; seed++) {
        const opts = resolveAugment({ ...STRONG, flip: 0 });
        const a = augmentSample(s, opts, new Rng(seed, `k${k}`));
        for (const v of a.label) expect(present.has(v) || v === 0, `label ${v}`).to.equal(true);
        const f = augmentSample(s, resolveAugment({ ...STRONG, flip: 1 }), new Rng(seed, `k${k}`));
        for (const v of f.label) expect(partners.has(v) || v === 0, `flipped label ${v}`).to.equal(true);
        for (const v of [...a.label, ...f.label]) expect(v <= 10 || v === IGNORE_INDEX).to.equal(true);
        for (const v of [...a.image, ...f.image]) expect(v >= -1 && v <= 1).to.equal(true);
      }
    }
  });

  it('turns hue about the grey axis: a third of a turn sends red to green and leaves greys grey', () => {
    const s: Sample = {
      id: 'rg',
      height: 1,
      width: 2,
      image: Float32Array.from([0.8, -0.8, -0.8, 0.3, 0.3, 0.3]),
      label: new Uint8Array(2),
    };
    const opts = resolveAugment({
      ...OFF,
      colorJitter: { brightness: 0, contrast: 0, saturation: 0, hue: 1 / 3 },
    });
    // The draw u in [-1, 1) scales the turn: find a seed whose draw is close to +1.
    let seed = 0;
    while (new Rng(seed).fill(new Float64Array(9))[8] < 0.999) seed++;
    const a = augmentSample(s, opts, new Rng(seed));
    expect(Array.from(a.image.subarray(0, 3)).map((v) => +v.toFixed(2))).to.deep.equal([-0.8, 0.8, -0.8]);
    for (let c = 3; c < 6; c++) expect(a.image[c]).to.be.closeTo(0.3, 1e-6);
  });

  it('rejects out-of-range and malformed options naming the field', () => {
    const where = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        expect(e).to.be.instanceOf(FprlError);
        return (e as FprlError).where;
      }
      return undefined;
    };
    expect(where(() => resolveAugment({ colorJitter: { hue: 0.7 } }))).to.equal('augment.colorJitter.hue');
    expect(where(() => resolveAugment({ scale: [0, 1] }))).to.equal('augment.scale');
    expect(where(() => resolveAugment({ scale: 1 as unknown as [number, number] }))).to.equal(
      'augment.scale',
    );
    expect(where(() => resolveAugment({ shift: -0.1 }))).to.equal('augment.shift');
    expect(where(() => resolveAugment({ outOfFrame: 'edge' as 'ignore' }))).to.equal('augment.outOfFrame');
  });

  describe('in the batch sampler', () => {
    before(() => useBackend('cpu'));
    const ds = new SyntheticFaces({ size: 24, count: 8, seed: 2 });
    const batches = async (seed: number, augment: AugmentOptions | false, n = 2): Promise<ArrayBatch[]> => {
      const s = new BatchSampler(ds, { batchSize: 4, rng: new Rng(seed), shuffle: false, augment });
      const out: ArrayBatch[] = [];
      for (let i = 0; i < n; i++) out.push(await s.nextArrays());
      return out;
    };

    it('gives the same batches for the same seed and other ones for another seed (same order, other draws)', async () => {
      const [a, b, c] = [await batches(1, STRONG), await batches(1, STRONG), await batches(2, STRONG)];
      expect(a.map(hashBatch)).to.deep.equal(b.map(hashBatch));
      expect(c.map((x) => x.ids)).to.deep.equal(a.map((x) => x.ids)); // no shuffle: only augmentation differs
      expect(bits(c[0].images).equals(bits(a[0].images))).to.equal(false);
    });

    it('resumes exactly: a sampler restored from a saved state draws the same augmented batches', async () => {
      const make = (seed: number) =>
        new BatchSampler(ds, {
          batchSize: 3,
          rng: new Rng(seed),
          shuffle: true,
          augment: STRONG,
          dropLast: true,
        });
      const a = make(5);
      for (let i = 0; i < 3; i++) await a.nextArrays(); // into the second epoch
      const b = make(6);
      b.setState(JSON.parse(JSON.stringify(a.getState())));
      for (let i = 0; i < 4; i++)
        expect(hashBatch(await b.nextArrays())).to.equal(hashBatch(await a.nextArrays()));
    });

    it('keeps the batches of the flip-only and default options of before (hashes pinned)', async () => {
      // Pinned on the code before issue 14 part 4 (SyntheticFaces 32 px, 16 faces, seed 7).
      const faces = new SyntheticFaces({ size: 32, count: 16, seed: 0 });
      const pinned: [AugmentOptions | false, string][] = [
        [false, '260a56846925bbc9,6c27d120194a9baa'],
        [{}, '70896a2d58ba9837,efde855f55fb6c09'],
        [{ ...OFF, flip: 0.5 }, 'a91cf3539d959b9e,bfead1a466f05330'],
      ];
      for (const [augment, expected] of pinned) {
        const s = new BatchSampler(faces, { batchSize: 4, rng: new Rng(7), shuffle: true, augment });
        const got = [hashBatch(await s.nextArrays()), hashBatch(await s.nextArrays())];
        expect(got.join(','), JSON.stringify(augment)).to.equal(expected);
      }
    });

    it('is off for evaluation: evaluate() shows the agent the dataset images untouched', async () => {
      const seen: Float32Array[] = [];
      const agent: Agent = {
        name: 'recorder',
        async act(obs) {
          seen.push(obs.images.dataSync() as Float32Array);
          const [B, H, W] = obs.images.shape;
          return { labels: new Int32Array(B * H * W), samples: 1 };
        },
        learn: () => Promise.reject(new Error('not trained')),
        save: () => Promise.resolve(),
        load: () => Promise.resolve(),
        dispose: () => undefined,
      };
      const before = tf.memory().numTensors;
      await evaluate(agent, ds, { batchSize: 4 });
      expect(tf.memory().numTensors).to.equal(before);
      const raw = await Promise.all(Array.from({ length: ds.length }, (_, i) => ds.get(i)));
      const expected = new Float32Array(raw.length * raw[0].image.length);
      raw.forEach((r, i) => expected.set(r.image, i * r.image.length));
      const got = new Float32Array(expected.length);
      got.set(seen[0], 0);
      got.set(seen[1], seen[0].length);
      expect(bits(got).equals(bits(expected))).to.equal(true);
      // ... while a training sampler over the same set, augmenting, shows other pixels.
      const [train] = await batches(1, STRONG, 1);
      expect(bits(train.images).equals(bits(expected.subarray(0, train.images.length)))).to.equal(false);
    });
  });
});

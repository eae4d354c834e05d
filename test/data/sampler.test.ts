import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { CLASS_NAMES } from '../../src/core/classes.js';
import { BatchSampler, SyntheticFaces } from '../../src/data/index.js';
import { FprlError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import type { Dataset, Sample } from '../../src/core/types.js';
import { leakedTensors, useBackend } from '../helpers/backend.js';

/** n samples of 2x2 whose pixels and labels encode the index. */
class TinySet implements Dataset {
  readonly name = 'tiny';
  readonly classNames = CLASS_NAMES;
  readonly height = 2;
  readonly width = 2;
  gets: number[] = [];
  failAt = -1;
  constructor(readonly length: number) {}
  async get(i: number): Promise<Sample> {
    this.gets.push(i);
    if (i === this.failAt) throw new FprlError(`cannot read sample ${i}`, { where: `tiny/${i}` });
    return {
      id: `s${i}`,
      image: new Float32Array(12).fill(i / 100),
      label: new Uint8Array(4).fill(i % 11),
      height: 2,
      width: 2,
    };
  }
}

async function epochIds(s: BatchSampler): Promise<string[][]> {
  const start = s.epoch;
  const out: string[][] = [];
  while (s.epoch === start) out.push((await s.nextArrays()).ids);
  return out;
}

describe('data: batch sampler', () => {
  before(() => useBackend('cpu'));

  it('yields [B,H,W,3] float32 and [B,H,W] int32 tensors that the caller owns', async () => {
    const ds = new TinySet(5);
    const s = new BatchSampler(ds, { batchSize: 2, rng: new Rng(0), shuffle: false });
    const leaked = await leakedTensors(async () => {
      const b = await s.next();
      expect(b.images.shape).to.deep.equal([2, 2, 2, 3]);
      expect(b.images.dtype).to.equal('float32');
      expect(b.labels.shape).to.deep.equal([2, 2, 2]);
      expect(b.labels.dtype).to.equal('int32');
      expect(b.ids).to.deep.equal(['s0', 's1']);
      expect(Array.from(await b.labels.data())).to.deep.equal([0, 0, 0, 0, 1, 1, 1, 1]);
      expect((await b.images.data())[12]).to.be.closeTo(0.01, 1e-7); // first value of the second image
      tf.dispose([b.images, b.labels]);
    });
    expect(leaked).to.equal(0);
  });

  it('visits every sample once per epoch, with a short last batch unless dropLast', async () => {
    const s = new BatchSampler(new TinySet(5), { batchSize: 2, rng: new Rng(1), shuffle: true });
    expect(s.batchesPerEpoch).to.equal(3);
    const e0 = await epochIds(s);
    expect(e0.map((b) => b.length)).to.deep.equal([2, 2, 1]);
    expect(e0.flat().sort()).to.deep.equal(['s0', 's1', 's2', 's3', 's4']);
    expect(s.epoch).to.equal(1);
    const d = new BatchSampler(new TinySet(5), {
      batchSize: 2,
      rng: new Rng(1),
      shuffle: true,
      dropLast: true,
    });
    expect((await epochIds(d)).map((b) => b.length)).to.deep.equal([2, 2]);
    expect(
      () =>
        new BatchSampler(new TinySet(1), { batchSize: 2, rng: new Rng(1), shuffle: false, dropLast: true }),
    ).to.throw(FprlError, /fewer than one batch/);
  });

  it('shuffles differently each epoch and for each seed, and keeps order when not shuffling', async () => {
    const order = async (seed: number, shuffle: boolean) => {
      const s = new BatchSampler(new TinySet(20), { batchSize: 20, rng: new Rng(seed), shuffle });
      return [(await s.nextArrays()).ids, (await s.nextArrays()).ids];
    };
    const [a0, a1] = await order(1, true);
    const [b0] = await order(2, true);
    const [c0] = await order(1, true);
    expect(a0).to.not.deep.equal(a1);
    expect(a0).to.not.deep.equal(b0);
    expect(a0).to.deep.equal(c0);
    const [plain] = await order(1, false);
    expect(plain).to.deep.equal(Array.from({ length: 20 }, (_, i) => `s${i}`));
  });

  it('resumes exactly from a saved state, augmentation included', async () => {
    const ds = new SyntheticFaces({ size: 16, count: 7, seed: 3 });
    const make = (seed: number) =>
      new BatchSampler(ds, { batchSize: 3, rng: new Rng(seed), shuffle: true, augment: {} });
    const a = make(42);
    for (let i = 0; i < 4; i++) await a.nextArrays(); // into the second epoch
    const state = JSON.parse(JSON.stringify(a.getState()));
    expect(state).to.include({ epoch: 1, position: 3, datasetLength: 7, batchSize: 3 });
    const b = make(999);
    b.setState(state);
    for (let i = 0; i < 4; i++) {
      const [x, y] = [await a.nextArrays(), await b.nextArrays()];
      expect(y.ids).to.deep.equal(x.ids);
      expect(y.epoch).to.equal(x.epoch);
      expect(Buffer.from(y.images.buffer).equals(Buffer.from(x.images.buffer))).to.equal(true);
      expect(Array.from(y.labels)).to.deep.equal(Array.from(x.labels));
    }
    // Augmentation differs between epochs for the same sample.
    const c = make(42);
    const first = await c.nextArrays();
    c.setState({ ...c.getState(), epoch: 5, position: 0 });
    const later = await c.nextArrays();
    expect(later.ids).to.not.deep.equal(first.ids);
  });

  it('refuses a state saved for another dataset or batch size', () => {
    const s = new BatchSampler(new TinySet(5), { batchSize: 2, rng: new Rng(0), shuffle: true });
    const state = s.getState();
    const other = new BatchSampler(new TinySet(6), { batchSize: 2, rng: new Rng(0), shuffle: true });
    expect(() => other.setState(state)).to.throw(FprlError, /resume with the same dataset|5 samples/);
  });

  it('loads the next batch in the background after handing one out', async () => {
    const ds = new TinySet(6);
    const s = new BatchSampler(ds, { batchSize: 2, rng: new Rng(0), shuffle: false });
    await s.nextArrays();
    expect(ds.gets).to.deep.equal([0, 1]);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(ds.gets).to.deep.equal([0, 1, 2, 3]); // prefetched while the caller "computes"
    expect((await s.nextArrays()).ids).to.deep.equal(['s2', 's3']);
    expect(ds.gets).to.have.length(4); // served from the prefetch
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(ds.gets).to.deep.equal([0, 1, 2, 3, 4, 5]);
  });

  it('prefetches one sample per turn of the event loop, so the caller is answered between samples', async () => {
    // A dataset whose get() computes synchronously (like the synthetic renderer) and logs it.
    const log: string[] = [];
    const ds = new TinySet(8);
    const get = ds.get.bind(ds);
    ds.get = (i: number) => {
      log.push(`get ${i}`);
      return get(i);
    };
    const s = new BatchSampler(ds, { batchSize: 4, rng: new Rng(0), shuffle: false });
    await s.nextArrays();
    log.length = 0;
    // What a data-parallel worker's answer is to the caller: an event that arrives while the
    // next batch is being prefetched. It must not wait for the whole batch.
    setImmediate(() => log.push('caller'));
    const b = await s.nextArrays();
    expect(b.ids).to.deep.equal(['s4', 's5', 's6', 's7']);
    expect(log).to.have.length(5);
    expect(log.indexOf('caller')).to.be.below(log.indexOf('get 7'));
    expect(log.filter((e) => e !== 'caller')).to.deep.equal(['get 4', 'get 5', 'get 6', 'get 7']);
  });

  it('serves concurrent calls in order', async () => {
    const s = new BatchSampler(new TinySet(6), { batchSize: 2, rng: new Rng(0), shuffle: false });
    const [a, b, c] = await Promise.all([s.nextArrays(), s.nextArrays(), s.nextArrays()]);
    expect([a.ids, b.ids, c.ids]).to.deep.equal([
      ['s0', 's1'],
      ['s2', 's3'],
      ['s4', 's5'],
    ]);
  });

  it('reports a failing sample from the batch that needs it, never as an unhandled rejection', async () => {
    const ds = new TinySet(6);
    ds.failAt = 3;
    const s = new BatchSampler(ds, { batchSize: 2, rng: new Rng(0), shuffle: false });
    await s.nextArrays();
    await new Promise((r) => setImmediate(r));
    let e: unknown;
    try {
      await s.nextArrays();
    } catch (err) {
      e = err;
    }
    expect((e as FprlError).where).to.equal('tiny/3');
  });

  it('keeps a failure early in a prefetched batch handled while the later samples start', async () => {
    const unhandled: unknown[] = [];
    const listener = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', listener);
    try {
      const ds = new TinySet(8);
      ds.failAt = 4; // the first sample of the prefetched batch [4, 5, 6, 7]
      const s = new BatchSampler(ds, { batchSize: 4, rng: new Rng(0), shuffle: false });
      await s.nextArrays();
      for (let i = 0; i < 6; i++) await new Promise((r) => setImmediate(r));
      const e = await s.nextArrays().catch((err: unknown) => err);
      expect((e as FprlError).where).to.equal('tiny/4');
      expect(unhandled).to.deep.equal([]);
    } finally {
      process.off('unhandledRejection', listener);
    }
  });
});

import { expect } from 'chai';
import seedrandom from 'seedrandom';
import { Rng } from '../../src/core/rng.js';
import { Registry } from '../../src/core/registry.js';
import { EventBus } from '../../src/core/bus.js';
import { FprlError } from '../../src/core/errors.js';
import { LabelMap } from '../../src/core/spaces.js';

describe('core', () => {
  describe('Rng', () => {
    it('gives the same stream for the same seed and a different one for another seed', () => {
      const a = new Rng(1);
      const b = new Rng(1);
      const c = new Rng(2);
      const xa = [a.next(), a.next(), a.next()];
      expect([b.next(), b.next(), b.next()]).to.deep.equal(xa);
      expect([c.next(), c.next(), c.next()]).to.not.deep.equal(xa);
    });

    it('restores exactly from a saved state', () => {
      const a = new Rng(7, 'x');
      a.next();
      const s = a.getState();
      const want = [a.next(), a.next()];
      const b = Rng.fromState(JSON.parse(JSON.stringify(s)));
      expect([b.next(), b.next()]).to.deep.equal(want);
    });

    it('draws bit for bit what seedrandom.alea draws for the same key, one by one and in bulk', () => {
      const ref = seedrandom.alea('5/train', { state: true });
      const a = new Rng(5, 'train');
      for (let i = 0; i < 10_000; i++) expect(a.next()).to.equal(ref());
      const bulk = a.fill(new Float64Array(100_003));
      for (let i = 0; i < bulk.length; i++) if (bulk[i] !== ref()) expect.fail(`draw ${i} of fill differs`);
      expect(a.seed32()).to.equal(ref.int32() >>> 0);
      expect(a.getState().state).to.deep.equal(ref.state());
      const b = Rng.fromState({ label: 'x', seed: '5', state: ref.state() });
      expect(b.next()).to.equal(ref());
    });

    it('forks independent streams that do not depend on draws from the parent', () => {
      const a = new Rng(3);
      const f1 = a.fork('data').next();
      a.next();
      expect(a.fork('data').next()).to.equal(f1);
      expect(a.fork('model').next()).to.not.equal(f1);
    });
  });

  describe('Registry', () => {
    it('names the registered entries when asked for an unknown one', () => {
      const r = new Registry<number>('widget');
      r.register({ name: 'one', description: '', create: () => 1 });
      expect(r.create('one')).to.equal(1);
      expect(() => r.create('two')).to.throw(FprlError, /unknown widget 'two'/);
      try {
        r.create('two');
      } catch (e) {
        expect((e as FprlError).hint).to.contain('one');
      }
    });

    it('refuses a duplicate name unless replacing', () => {
      const r = new Registry<number>('widget');
      r.register({ name: 'one', description: '', create: () => 1 });
      expect(() => r.register({ name: 'one', description: '', create: () => 2 })).to.throw(
        /already registered/,
      );
      r.register({ name: 'one', description: '', create: () => 2 }, { replace: true });
      expect(r.create('one')).to.equal(2);
    });
  });

  describe('EventBus', () => {
    it('delivers typed events only to listeners of that type', () => {
      const bus = new EventBus();
      const steps: number[] = [];
      let ends = 0;
      bus.on('train:step').subscribe((e) => steps.push(e.step));
      bus.on('run:end').subscribe(() => ends++);
      bus.emit('train:step', { runId: 'r', step: 1, scalars: {} });
      bus.emit('train:step', { runId: 'r', step: 2, scalars: {} });
      bus.emit('run:end', { runId: 'r', status: 'ok', wallSeconds: 1 });
      expect(steps).to.deep.equal([1, 2]);
      expect(ends).to.equal(1);
    });
  });

  describe('LabelMap space', () => {
    it('accepts label maps in range and rejects others', () => {
      const s = new LabelMap([1, 2, 2], 3);
      expect(s.contains(new Int32Array([0, 1, 2, 0]))).to.equal(true);
      expect(s.contains(new Int32Array([0, 1, 3, 0]))).to.equal(false);
      expect(s.contains(new Int32Array([0, 1, 2]))).to.equal(false);
      expect(s.contains(s.sample(new Rng(0)))).to.equal(true);
    });
  });
});

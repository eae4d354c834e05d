import { expect } from 'chai';
import { ThreadTuner } from '../../src/parallel/tune.js';

/**
 * Drive a tuner with a machine model: `msAt(threads, step)` is the step time with that many
 * threads computing at that step. Returns the threads used at every step.
 */
function drive(tuner: ThreadTuner, steps: number, msAt: (threads: number, step: number) => number): number[] {
  const used: number[] = [];
  for (let s = 0; s < steps; s++) {
    const t = tuner.threads;
    used.push(t);
    tuner.record(msAt(t, s));
  }
  return used;
}

describe('ThreadTuner (src/parallel/tune.ts)', () => {
  it('moves to one thread when two are slower (a busy machine) and stays there', () => {
    const tuner = new ThreadTuner({ max: 2, start: 2, period: 10, probe: 3 });
    const used = drive(tuner, 100, (t) => (t === 2 ? 120 : 100));
    expect(used.slice(0, 10)).to.deep.equal(Array(10).fill(2));
    expect(used.slice(10, 14)).to.deep.equal([1, 1, 1, 1]); // one untimed step, three timed
    // Probes of two threads (4 steps each) after 10, 20 and 40 more steps at one: 74 of the last 86 steps on one.
    expect(used.slice(14).filter((x) => x === 1)).to.have.length(74);
    expect(tuner.switches[0]).to.deep.equal({ step: 14, from: 2, to: 1, fromMs: 120, toMs: 100 });
    expect(tuner.switches).to.have.length(1);
  });

  it('keeps the faster count, and waits twice as long after each probe that loses', () => {
    const tuner = new ThreadTuner({ max: 2, start: 2, period: 10, maxPeriod: 80, probe: 3 });
    const used = drive(tuner, 200, (t) => (t === 2 ? 60 : 100));
    expect(tuner.switches).to.deep.equal([]);
    // Probes (4 steps at one thread each) start after 10 steps at two, then after 20, 40 and 80 (the last 3 of the steps before a probe count).
    const probeStarts = used.flatMap((t, i) => (t === 1 && used[i - 1] === 2 ? [i] : []));
    expect(probeStarts).to.deep.equal([10, 31, 72, 153]);
    expect(used.filter((t) => t === 1)).to.have.length(16);
  });

  it('needs the probe to win by the margin: noise of a few percent does not switch', () => {
    const tuner = new ThreadTuner({ max: 2, start: 1, period: 10, probe: 3, margin: 0.04 });
    drive(tuner, 100, (t) => (t === 2 ? 98 : 100));
    expect(tuner.switches).to.deep.equal([]);
  });

  it('probes again soon when the machine gets busier, and follows the load both ways', () => {
    // Two threads are faster until step 150, when another job takes a core; from step 300 it is gone.
    const busy = (s: number) => s >= 150 && s < 300;
    const tuner = new ThreadTuner({ max: 2, start: 1, period: 10, maxPeriod: 160, probe: 3 });
    const used = drive(tuner, 450, (t, s) => (busy(s) ? (t === 2 ? 200 : 110) : t === 2 ? 60 : 100));
    expect(used[20]).to.equal(2);
    const at = (from: number, to: number) => used.slice(from, to).filter((t) => t === 1).length / (to - from);
    expect(at(170, 300), 'mostly one thread while the core is taken').to.be.above(0.8);
    expect(at(420, 450), 'back on two threads when it is free again').to.equal(0);
    expect(tuner.switches.map((x) => x.to)).to.deep.equal([2, 1, 2]);
  });

  it('tries both neighbours of a middle count in turn, and never leaves 1..max', () => {
    const tuner = new ThreadTuner({ max: 4, start: 2, period: 5, probe: 2 });
    const used = drive(tuner, 200, (t) => 100 / t); // more threads, faster
    expect(Math.min(...used)).to.be.at.least(1);
    expect(Math.max(...used)).to.equal(4);
    expect(used.slice(-20)).to.satisfy((xs: number[]) => xs.filter((x) => x === 4).length >= 16);
    const one = new ThreadTuner({ max: 1, start: 3 });
    expect(drive(one, 50, () => 10)).to.deep.equal(Array(50).fill(1));
  });
});

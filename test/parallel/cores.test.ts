import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sampleFreeCores, threadsForFree, describeFreeCores } from '../../src/parallel/cores.js';
import { defaultThreads } from '../../src/parallel/index.js';
import { runThreads } from '../../src/commands/run.js';
import { cpuPeak } from '../../src/bench/peak.js';

describe('default threads on a shared machine (src/parallel/cores.ts)', () => {
  it('counts only the free cores, rounded to the nearest core, shared among the processes, at least one', () => {
    // [free, processes, cores] -> threads
    const table: [number, number, number, number][] = [
      [2, 1, 2, 2],
      [1.6, 1, 2, 2],
      [1.4, 1, 2, 1], // one core held by another job: two threads would wait for it
      [1, 1, 2, 1],
      [0, 1, 2, 1],
      [2, 2, 2, 1],
      [7.7, 2, 8, 4],
      [5.2, 2, 8, 2],
      [9, 1, 4, 4], // never more than the cores
    ];
    for (const [free, processes, cores, want] of table)
      expect(
        threadsForFree(free, processes, cores),
        `${free} free, ${processes} processes, ${cores} cores`,
      ).to.equal(want);
    expect(defaultThreads(1, 2, 1)).to.equal(1);
    expect(defaultThreads(1, 2)).to.equal(2);
    const cores = os.availableParallelism();
    // The free cores are where the default starts; it may adapt up to all the cores per process.
    expect(runThreads({ workers: 1 }, {}, 0.5)).to.deep.equal({ fallback: 1, adaptUpTo: cores });
    expect(runThreads({ workers: 1 }, {}, cores)).to.deep.equal({ fallback: cores, adaptUpTo: cores });
    expect(runThreads({ threads: 2 }, {}, 0)).to.deep.equal({ forced: 2, fallback: 1, adaptUpTo: cores });
  });

  it('measures the free cores, and a busy process takes about one of them', async () => {
    const quiet = await sampleFreeCores(300);
    expect(quiet.free).to.be.within(0, quiet.cores);
    expect(describeFreeCores(quiet, 1)).to.match(/^1 thread: [\d.]+ of \d+ cores free/);
    const busy = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const loaded = await sampleFreeCores(500);
      // The spinner holds a core (or, if the scheduler starves it, other load does): never more
      // than cores - 1 free, with half a core for sampling jitter.
      expect(loaded.free).to.be.at.most(loaded.cores - 0.5);
    } finally {
      busy.kill('SIGKILL');
    }
  });
});

describe('the peak FLOP rate (src/bench/peak.ts)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fprl-peak-'));

  it('is 32 FLOP per cycle times the highest clock in /proc/cpuinfo, and says where the clock came from', () => {
    const file = path.join(dir, 'cpuinfo');
    writeFileSync(file, 'processor\t: 0\ncpu MHz\t\t: 2600.000\n\nprocessor\t: 1\ncpu MHz\t\t: 2450.5\n');
    const p = cpuPeak(file);
    expect(p.ghz).to.equal(2.6);
    expect(p.gflopsPerCore).to.be.closeTo(83.2, 1e-9);
    expect(p.source).to.match(/cpu MHz.*2 cores/);
  });

  it('has no peak, and says why, without a clock', () => {
    const file = path.join(dir, 'noclock');
    writeFileSync(file, 'processor\t: 0\n');
    expect(cpuPeak(file)).to.deep.equal({ source: `no 'cpu MHz' in ${file}: no clock, no peak` });
    expect(cpuPeak(path.join(dir, 'missing')).gflopsPerCore).to.equal(undefined);
  });
});

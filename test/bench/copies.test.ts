import { expect } from 'chai';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { useBackend } from '../helpers/backend.js';
import { copyArgs, formatCopies, parseCopy, runCopies } from '../../src/bench/copies.js';
import { benchCommand, formatRounds, summariseRounds } from '../../src/commands/bench.js';
import { FprlError } from '../../src/core/errors.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** `fprl` as a real process, sources under tsx (as `npm run fprl` does). */
const CLI = { file: process.execPath, args: ['--import', 'tsx', path.join(ROOT, 'src', 'cli.ts')] };
/** A stand-in copy: a node script that prints `out` and exits with `code`. */
const fake = (out: string, code = 0, stderr = '') => ({
  file: process.execPath,
  args: [
    '-e',
    `process.stdout.write(${JSON.stringify(out)}); process.stderr.write(${JSON.stringify(stderr)}); process.exit(${code})`,
    '--',
  ],
});
const line = (train: number, infer: number) =>
  JSON.stringify({ trainImagesPerSecond: train, inferImagesPerSecond: infer, trainMsPerStep: 1000 / train });

describe('fprl bench --copies', function () {
  this.timeout(120_000);
  before(() => useBackend('wasm'));

  it('asks each copy for the same measurement on one thread, in JSON', () => {
    const args = copyArgs({
      copies: 2,
      preset: 'seed',
      batch: 4,
      steps: 3,
      warmup: 1,
      seed: 7,
      backend: 'cpu',
      stockKernels: true,
    });
    expect(args).to.deep.equal([
      'bench',
      '--preset',
      'seed',
      '--batch',
      '4',
      '--steps',
      '3',
      '--threads',
      '1',
      '--json',
      '--warmup',
      '1',
      '--seed',
      '7',
      '--backend',
      'cpu',
      '--stock-kernels',
    ]);
  });

  it('sums the copies and compares the sum with one thread alone and with the pool', async () => {
    const r = await runCopies({
      copies: 3,
      preset: 'tiny-64',
      batch: 1,
      steps: 1,
      command: fake(line(4, 10)),
    });
    expect(r.each).to.have.length(3);
    expect(r.train).to.equal(12);
    expect(r.infer).to.equal(30);
    const text = formatCopies(r, { train: 5, infer: 20 }, { threads: 3, train: 9, infer: 15 });
    expect(text).to.contain('3 one-thread copies side by side');
    expect(text).to.contain('4.00 + 4.00 + 4.00 = 12.00 img/s (2.40x one thread alone)');
    expect(text).to.contain('infer 30.00 img/s (1.50x)');
    expect(text).to.contain("3 threads data-parallel: train 9.00 img/s = 75% of the copies' sum, infer 50%");
  });

  it('names the copy that failed, printed no result or reported nonsense', async () => {
    const run = (command: { file: string; args: string[] }) =>
      runCopies({ copies: 2, preset: 'tiny-64', batch: 1, steps: 1, command }).then(
        () => expect.fail('should have thrown'),
        (e: unknown) => e as FprlError,
      );
    const crashed = await run(fake('', 3, 'error: something broke'));
    expect(crashed).to.be.instanceOf(FprlError);
    expect(crashed.message).to.match(/copy \d exited with 3: error: something broke/);
    expect((await run(fake('not json'))).message).to.match(/copy \d printed no JSON result: not json/);
    expect((await run(fake(line(0, 1)))).message).to.match(/copy \d reported trainImagesPerSecond = 0/);
    expect(() => parseCopy('{}', 1)).to.throw(FprlError, /copy 2 reported trainImagesPerSecond = undefined/);
    const one = await runCopies({ copies: 1, preset: 'tiny-64', batch: 1, steps: 1 }).catch(
      (e: FprlError) => e,
    );
    expect((one as FprlError).message).to.contain('--copies must be an integer of at least 2, got 1');
  });

  it('times real copies of the CLI next to the one-thread and pool figures (tiny-64)', async () => {
    // The smallest model, one timed step: the copies' figures only have to be real and summed.
    const quick = { preset: 'tiny-64', batch: 2, steps: 1, warmup: 1 };
    const out = await benchCommand({ ...quick, threads: 2, copies: 2, copiesCommand: CLI });
    if (out.kind !== 'model') throw new Error('expected the model benchmark');
    const copies = (out.json as { copies?: { each: { trainImagesPerSecond: number }[]; train: number } })
      .copies!;
    expect(copies.each).to.have.length(2);
    for (const c of copies.each) expect(c.trainImagesPerSecond).to.be.above(0);
    expect(copies.train).to.be.closeTo(
      copies.each[0].trainImagesPerSecond + copies.each[1].trainImagesPerSecond,
      0.01,
    );
    expect(out.text).to.match(
      /2 one-thread copies side by side .*: train [\d.]+ \+ [\d.]+ = [\d.]+ img\/s \([\d.]+x one thread alone\)/,
    );
    expect(out.text).to.match(/2 threads data-parallel: train [\d.]+ img\/s = \d+% of the copies' sum/);
  });

  it('lists the copies per round with --repeat, and the pool over their sum', () => {
    const round = (pool: number, copies: number) => ({
      result: {
        trainImagesPerSecond: 10,
        inferImagesPerSecond: 40,
        parallel: { trainImagesPerSecond: pool, inferImagesPerSecond: 70, trainSpeedup: pool / 10 },
      },
      copies: { copies: 2, each: [], train: copies, infer: 80 },
    });
    const s = summariseRounds([round(16, 18), round(15, 20)] as never);
    expect(s.copiesTrain).to.deep.equal([18, 20]);
    expect(s.poolOverCopies).to.deep.equal([0.89, 0.75]);
    expect(formatRounds(s)).to.contain(
      'one-thread copies side by side, summed: train 18.00, 20.00 img/s; ours over that sum 0.89, 0.75',
    );
    expect(s.speedup).to.deep.equal([1.6, 1.5]);
    expect(formatRounds(s)).to.contain('training speed-up of the pool over one thread: 1.60, 1.50');
    expect(summariseRounds([{ result: round(16, 18).result }] as never).copiesTrain).to.equal(undefined);
  });

  it('refuses --copies with threads inside the wasm backend', async () => {
    const e = await benchCommand({ preset: 'tiny-64', copies: 2, wasmThreads: 2 }).catch((x: FprlError) => x);
    expect(e).to.be.instanceOf(FprlError);
    expect((e as FprlError).message).to.contain(
      '--copies runs one-thread copies, but --wasm-threads asks for 2',
    );
  });

  it('refuses --copies with the kernel benchmarks and --agent', async () => {
    for (const extra of [{ kernels: true }, { fusedKernels: true }, { agent: 'reinforce' }]) {
      const e = await benchCommand({ preset: 'tiny-64', copies: 2, ...extra }).catch((x: FprlError) => x);
      expect(e).to.be.instanceOf(FprlError);
      expect((e as FprlError).message).to.contain('--copies times the model benchmark');
    }
  });
});

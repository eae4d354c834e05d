/**
 * Bounds checked before anything is allocated or planned (docs/RELIABILITY.md, "Experiment
 * configs"): one rule `steps >= 1` for `training.steps` (and an agent's override) and `--steps`,
 * and at most MAX_SEEDS seeds, counted before a `--seeds` range is expanded.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { parseSeeds } from '../../src/commands/run.js';
import { FprlError } from '../../src/core/errors.js';
import { runSweep } from '../../src/experiment/runner.js';
import { MAX_SEEDS } from '../../src/experiment/schema.js';
import { expectCleanFailure, runCli, tempDir, tinyExperiment, writeJson } from './fixtures.js';

describe('steps and seeds are bounded before anything runs', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => (tmp = tempDir('bounds')));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const run = (...args: string[]) => runCli(['run', ...args, '--backend', 'cpu', '--quiet']);

  it('training.steps: 0 names its path and the bound, and writes nothing', async () => {
    const file = writeJson(tmp, 'zero.json', tinyExperiment({ training: { steps: 0, batchSize: 2 } }));
    const out = path.join(tmp, 'out-zero');
    expectCleanFailure(await run(file, '--out', out), {
      where: file,
      message: '/training/steps: must be >= 1 (got 0)',
    });
    expect(fs.existsSync(out)).to.equal(false);
  });

  it("an agent's training override with steps: 0 names the agent's path", async () => {
    const file = writeJson(
      tmp,
      'zero-agent.json',
      tinyExperiment({ agents: [{ name: 'ce', kind: 'supervised', training: { steps: 0 } }] }),
    );
    const r = await run(file, '--out', path.join(tmp, 'out-zero-agent'));
    expectCleanFailure(r, { where: file, message: /\/agents\/0\/training\/steps: must be >= 1 \(got 0\)/ });
  });

  it('--steps 0 names the flag (on the command line and through the library)', async () => {
    const file = writeJson(tmp, 'ok.json', tinyExperiment());
    expectCleanFailure(await run(file, '--steps', '0', '--out', path.join(tmp, 'out-flag')), {
      where: '--steps',
      message: "'0' is not an integer >= 1",
    });
    let err: unknown;
    try {
      await runSweep({ experiment: file, steps: 0, out: path.join(tmp, 'out-lib') });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(FprlError);
    expect((err as FprlError).where).to.equal('--steps');
    expect((err as FprlError).message).to.equal(
      '0 is not an integer >= 1: a run that trains nothing is no result',
    );
    expect(fs.existsSync(path.join(tmp, 'out-lib'))).to.equal(false);
  });

  it(`a --seeds range of millions is refused at once, before it is expanded (at most ${MAX_SEEDS})`, async () => {
    const t0 = performance.now();
    const r = await run(writeJson(tmp, 'ok2.json', tinyExperiment()), '--seeds', '0-99999999');
    expect(performance.now() - t0).to.be.below(5000);
    expectCleanFailure(r, {
      where: '--seeds',
      message: `'0-99999999' expands to 100000000 seeds, more than ${MAX_SEEDS} (one run per agent and seed)`,
      hint: '--seeds 0-4',
    });
    expect(parseSeeds(`0-${MAX_SEEDS - 1}`)).to.have.length(MAX_SEEDS);
    expect(() => parseSeeds(`0-${MAX_SEEDS - 1},${MAX_SEEDS}`)).to.throw(FprlError, /more than 1000/);
    expect(() => parseSeeds(`5,0-${MAX_SEEDS - 1}`)).to.throw(FprlError, /expands to 1001 seeds/);
  });

  it(`a config with more than ${MAX_SEEDS} seeds names /seeds`, async () => {
    const seeds = Array.from({ length: MAX_SEEDS + 1 }, (_, i) => i);
    const file = writeJson(tmp, 'many.json', tinyExperiment({ seeds }));
    expectCleanFailure(await run(file, '--out', path.join(tmp, 'out-many')), {
      where: file,
      message: /\/seeds: must have at most 1000 items/,
    });
  });
});

/**
 * Bounds checked before anything is allocated or planned (docs/RELIABILITY.md, "Experiment
 * configs"): one rule `steps >= 1` for `training.steps` (and an agent's override) and `--steps`,
 * and at most MAX_SEEDS seeds, counted before a `--seeds` range is expanded; the memory a model
 * needs (src/experiment/resources.ts) against the memory there is, naming the field to change.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { parseSeeds } from '../../src/commands/run.js';
import { FprlError } from '../../src/core/errors.js';
import { runSweep } from '../../src/experiment/runner.js';
import { MAX_SEEDS } from '../../src/experiment/schema.js';
import { loadExperiment } from '../../src/experiment/load.js';
import { availableMemory } from '../../src/experiment/resources.js';
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

  it('an image size whose attention cannot fit names /dataset/size and the tokens, and writes nothing', async () => {
    // 1024 px in 4 px patches: 65,536 tokens, a 64 GiB score matrix per head and block.
    const file = writeJson(
      tmp,
      'huge-image.json',
      tinyExperiment({ dataset: { kind: 'synthetic', size: 1024, train: 8, val: 4, test: 4, seed: 0 } }),
    );
    const out = path.join(tmp, 'out-huge-image');
    const r = await run(file, '--out', out);
    expectCleanFailure(r, {
      where: file,
      message:
        /\/dataset\/size: at 1024 px an image is 65,536 tokens; training on one image needs about [\d.]+ GiB .*more than the [\d.]+ GiB of (available memory|what is left)/,
    });
    expect(r.stderr).to.match(/patchSize/);
    expect(fs.existsSync(out)).to.equal(false);
  });

  it('a batch that cannot fit names /training/batchSize (or the agent override) and how many images fit', async () => {
    const file = writeJson(
      tmp,
      'huge-batch.json',
      tinyExperiment({ training: { steps: 2, batchSize: 50_000_000 } }),
    );
    const out = path.join(tmp, 'out-huge-batch');
    const r = await run(file, '--out', out);
    expectCleanFailure(r, {
      where: file,
      message:
        /\/training\/batchSize: agent 'ce': a training step of 50000000 images at 16 px needs about [\d.]+ GiB .* \(at most about \d+ images fit\)/,
    });
    expect(fs.existsSync(out)).to.equal(false);
    const agentFile = writeJson(
      tmp,
      'huge-agent-batch.json',
      tinyExperiment({
        agents: [
          {
            name: 'rl',
            kind: 'reinforce',
            samples: 4,
            rewards: [{ plugin: 'f1' }],
            training: { batchSize: 50_000_000 },
          },
        ],
      }),
    );
    expectCleanFailure(await run(agentFile, '--out', path.join(tmp, 'out-huge-agent')), {
      where: agentFile,
      message:
        /\/agents\/0\/training\/batchSize: agent 'rl': a training step of 50000000 images with 4 samples each/,
    });
  });

  it('the largest batch the check says fits is accepted, one more is refused (the same estimate both ways)', async () => {
    const budget = { bytes: 64 * 2 ** 20, what: 'a 64 MiB test budget' };
    const file = writeJson(tmp, 'fit.json', tinyExperiment({ training: { steps: 2, batchSize: 100_000 } }));
    let msg = '';
    try {
      await loadExperiment(file, { memory: budget });
    } catch (e) {
      msg = (e as Error).message;
    }
    const fits = Number(/at most about (\d+) images fit/.exec(msg)?.[1]);
    expect(fits).to.be.greaterThan(1);
    const ok = writeJson(
      tmp,
      'fit-ok.json',
      tinyExperiment({ training: { steps: 2, batchSize: fits, evalBatchSize: 4 } }),
    );
    await loadExperiment(ok, { memory: budget });
    const over = writeJson(
      tmp,
      'fit-over.json',
      tinyExperiment({ training: { steps: 2, batchSize: fits + 1 } }),
    );
    let refused = '';
    try {
      await loadExperiment(over, { memory: budget });
    } catch (e) {
      refused = (e as Error).message;
    }
    expect(refused).to.match(/\/training\/batchSize/);
    expect(availableMemory().bytes).to.be.greaterThan(0);
  });
});

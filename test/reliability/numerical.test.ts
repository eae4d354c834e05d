import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { useBackend } from '../helpers/backend.js';
import { readCheckpointMeta } from '../../src/train/checkpoint.js';
import { readMetricsLog } from '../../src/sinks/index.js';
import type { RunResult } from '../../src/report/types.js';
import type { Summary } from '../../src/report/summary.js';
import {
  expectCleanFailure,
  runCli,
  tempDir,
  tinyExperiment,
  writeJson,
  type CliResult,
} from './fixtures.js';

/*
 * Numerical faults end to end: a sweep whose reward plugin (a module named by the config's
 * `rewardModules`) turns NaN, Infinity or huge after 8 images, i.e. at step 5 (batches of 2,
 * one sample per image; the huge ones make the gradient or the loss overflow float32). Each faulty run stops at step 5 with a message naming the step and
 * the agent, keeps its checkpoint of step 4, and the sweep carries on: the healthy agent
 * finishes and the summary reports the others as failed.
 */
describe('reliability: a NaN or Inf loss or reward stops the run, not the sweep', function () {
  this.timeout(30_000);
  let tmp: string;
  let out: string;
  let cli: CliResult;
  const faulty = (name: string, fault: string, extra: { huge?: number } = {}) => ({
    name,
    kind: 'reinforce',
    baseline: 'none',
    samples: 1,
    rewards: [{ plugin: 'faulty-after', options: { after: 8, fault, ...extra } }],
    // Without normalisation the huge rewards reach the loss as they are.
    normalizeAdvantage: false,
  });
  const result = (agent: string) =>
    JSON.parse(fs.readFileSync(path.join(out, agent, 'seed-0', 'result.json'), 'utf8')) as RunResult;

  before(async () => {
    await useBackend('cpu');
    tmp = tempDir('numerical');
    out = path.join(tmp, 'sweep');
    const module = path.join(import.meta.dirname, 'faulty-reward.ts');
    const exp = tinyExperiment({
      rewardModules: [module],
      training: { steps: 8, batchSize: 2, checkpointEvery: 2, evalEvery: 4, evalBatchSize: 4 },
      agents: [
        { name: 'ce', kind: 'supervised' },
        faulty('nan-reward', 'nan'),
        faulty('inf-reward', 'infinity'),
        { ...faulty('nan-credit', 'nan-credit'), credit: 'pixel' },
        // Finite rewards whose policy gradient (1e37) or loss (3e38 x log-probabilities) overflow float32.
        faulty('inf-gradient', 'huge', { huge: 1e37 }),
        faulty('inf-loss', 'huge', { huge: 3e38 }),
      ],
    });
    cli = await runCli([
      'run',
      writeJson(tmp, 'faulty.json', exp),
      '--out',
      out,
      '--backend',
      'cpu',
      '--quiet',
    ]);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('fails the command with one message saying how many runs failed and how to retry', () => {
    expectCleanFailure(cli, { where: out, message: '5 of 6 runs failed', hint: '--retry-failed' });
  });

  it('stops a run on a NaN reward at its step, naming the agent and the plugin', () => {
    const r = result('nan-reward');
    expect(r.status).to.equal('failed');
    expect(r.error).to.match(/training of agent 'nan-reward' stopped at step 5: returned NaN for image 0/);
    expect(r.error).to.contain("plugin 'faulty-after'");
  });

  it('stops a run on an infinite reward at its step, naming the agent and the plugin', () => {
    const r = result('inf-reward');
    expect(r.status).to.equal('failed');
    expect(r.error).to.match(
      /agent 'inf-reward'.*stopped at step 5: returned Infinity for image 0.*not a finite number/,
    );
    expect(r.error).to.contain("plugin 'faulty-after'");
  });

  it('stops a run on NaN pixel credit at its step, naming the plugin and the component, not blaming the agent', () => {
    const r = result('nan-credit');
    expect(r.status).to.equal('failed');
    expect(r.error).to.match(
      /agent 'nan-credit'.*stopped at step 5: pixelCredit returned NaN at pixel 0 of image 0/,
    );
    expect(r.error).to.contain("reward component 'faulty-after' (plugin 'faulty-after')");
    expect(r.error).not.to.contain('the reward is not finite');
  });

  it('stops a run whose loss overflows at its step, naming the agent, without applying the update', () => {
    const r = result('inf-loss');
    expect(r.status).to.equal('failed');
    expect(r.error).to.match(
      /training of agent 'inf-loss' stopped at step 5: non-finite loss \(loss (-?Infinity|NaN)\b.*the update was not applied/,
    );
  });

  it('stops a run whose gradient overflows at its step, naming the agent, without applying the update', () => {
    const r = result('inf-gradient');
    expect(r.status).to.equal('failed');
    expect(r.error).to.match(
      /training of agent 'inf-gradient' stopped at step 5: non-finite gradient norm \(loss [\d.e+]+, gradient norm (Infinity|NaN)\); the update was not applied/,
    );
  });

  it('keeps the last good checkpoint (step 4) of every stopped run, and says so', async () => {
    for (const agent of ['nan-reward', 'inf-reward', 'nan-credit', 'inf-gradient', 'inf-loss']) {
      const dir = path.join(out, agent, 'seed-0', 'checkpoints');
      expect((await readCheckpointMeta(dir))?.step, agent).to.equal(4);
      expect(result(agent).error, agent).to.contain(`the last good checkpoint (step 4) is kept in ${dir}`);
    }
  });

  it('the kept checkpoint holds finite weights that fprl eval can use', async () => {
    const r = await runCli([
      'eval',
      '--run',
      path.join(out, 'inf-loss', 'seed-0'),
      '--backend',
      'cpu',
      '--json',
    ]);
    expect(r.code, r.stderr).to.equal(0);
    const report = JSON.parse(r.stdout) as { meanF1: number; run: { step: number } };
    expect(report.run.step).to.equal(4);
    expect(Number.isFinite(report.meanF1)).to.equal(true);
  });

  it('carries on with the other runs and reports the failed ones in the summary and the table', () => {
    expect(result('ce').status).to.equal('ok');
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as Summary;
    expect(summary.failed.map((f) => f.agent)).to.have.members([
      'nan-reward',
      'inf-reward',
      'nan-credit',
      'inf-gradient',
      'inf-loss',
    ]);
    expect(summary.agents.find((a) => a.agent === 'ce')?.seeds).to.deep.equal([0]);
    expect(cli.stdout).to.match(/\nce\s+1\/1/);
    expect(cli.stdout).to.contain("failed: nan-reward/seed-0: reward component 'faulty-after'");
  });

  it('logs the failure as the run:end record of the run', async () => {
    const log = await readMetricsLog(path.join(out, 'inf-reward', 'seed-0', 'metrics.jsonl'));
    const end = log.records.filter((r) => r.type === 'run:end').at(-1);
    expect(end).to.include({ status: 'failed' });
    expect(String(end?.error)).to.contain('step 5');
    const steps = log.records.filter((r) => r.type === 'train:step').map((r) => r.step);
    expect(Math.max(...(steps as number[]))).to.equal(4);
  });
});

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
 * No silent loss of a run: a sweep on 2 worker processes where one worker is killed (SIGKILL,
 * as by the OOM killer) at step 5 of its run by its reward module (dying-reward.ts). The run is
 * recorded failed with the signal, the table counts it, the sweep exits 1, and --retry-failed
 * resumes it from its last checkpoint.
 */
describe('reliability: a worker process that dies fails its run visibly', function () {
  this.timeout(120_000);
  let tmp: string;
  let out: string;
  let cli: CliResult;
  const result = (agent: string) =>
    JSON.parse(fs.readFileSync(path.join(out, agent, 'seed-0', 'result.json'), 'utf8')) as RunResult;

  before(async () => {
    await useBackend('cpu');
    tmp = tempDir('worker-death');
    out = path.join(tmp, 'sweep');
    const marker = path.join(tmp, 'die-once');
    fs.writeFileSync(marker, '');
    const exp = tinyExperiment({
      rewardModules: [path.join(import.meta.dirname, 'dying-reward.ts')],
      training: { steps: 8, batchSize: 2, checkpointEvery: 2, evalEvery: 0, evalBatchSize: 4 },
      agents: [
        { name: 'ce', kind: 'supervised' },
        {
          name: 'dies',
          kind: 'reinforce',
          baseline: 'none',
          samples: 1,
          rewards: [{ plugin: 'dies-once', options: { after: 8, marker } }],
        },
      ],
    });
    const file = writeJson(tmp, 'dying.json', exp);
    cli = await runCli(['run', file, '--out', out, '--backend', 'cpu', '--workers', '2', '--quiet']);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('records the killed run as failed in result.json, with the signal', () => {
    const r = result('dies');
    expect(r.status).to.equal('failed');
    expect(r.error).to.contain('worker process was killed by SIGKILL');
    expect(r.error).to.contain('--retry-failed resumes the run');
    expect(result('ce').status).to.equal('ok');
  });

  it('counts the killed run in the summary and the final table, and exits non-zero', () => {
    expectCleanFailure(cli, { where: out, message: '1 of 2 runs failed', hint: '--retry-failed' });
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as Summary;
    expect(summary.failed.map((f) => f.agent)).to.deep.equal(['dies']);
    expect(cli.stdout).to.match(/\ndies\s+0\/1/);
    expect(cli.stdout).to.contain('failed: dies/seed-0: worker process was killed by SIGKILL');
  });

  it('--retry-failed resumes the killed run from its last checkpoint and finishes it', async () => {
    const before = await readCheckpointMeta(path.join(out, 'dies', 'seed-0', 'checkpoints'));
    expect(before?.step).to.equal(4);
    const r = await runCli([
      'run',
      '--resume',
      out,
      '--retry-failed',
      '--backend',
      'cpu',
      '--workers',
      '2',
      '--quiet',
    ]);
    expect(r.code, r.stderr).to.equal(0);
    expect(result('dies').status).to.equal('ok');
    // Steps 1-4 from the killed session, 5-8 from the resumed one: each once (a fresh start would repeat 1-4).
    const log = await readMetricsLog(path.join(out, 'dies', 'seed-0', 'metrics.jsonl'));
    const steps = log.records.filter((x) => x.type === 'train:step').map((x) => x.step);
    expect(steps).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});

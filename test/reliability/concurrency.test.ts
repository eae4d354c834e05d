import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { readMetricsLog } from '../../src/sinks/index.js';
import type { RunResult } from '../../src/report/types.js';
import type { Summary } from '../../src/report/summary.js';
import { runCliProcess, snapshot, tempDir, tinyExperiment, writeJson, type CliResult } from './fixtures.js';

/*
 * Two `fprl run` processes started at the same moment on the same (new) output folder. The
 * lock decides: one sweep runs, the other refuses with the owner's pid (or, if it reached the
 * folder only after the first had finished, finds every run done and runs nothing). Either
 * way no run is trained twice and every file is whole. (The deterministic refusal, against a
 * sweep frozen mid-run, is in crash.test.ts.)
 */
describe('reliability: two sweeps started together on one folder do not corrupt each other', function () {
  this.timeout(60_000);
  let tmp: string;
  let out: string;
  let a: CliResult;
  let b: CliResult;

  before(async () => {
    tmp = tempDir('concurrency');
    out = path.join(tmp, 'sweep');
    const file = writeJson(
      tmp,
      'two.json',
      tinyExperiment({ seeds: [0, 1], training: { steps: 3, batchSize: 2 } }),
    );
    const args = ['run', file, '--out', out, '--backend', 'cpu', '--quiet'];
    [a, b] = await Promise.all([runCliProcess(args), runCliProcess(args)]);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('lets exactly one of them train, and the other refuses naming the owner or finds nothing to do', () => {
    const [ran, other] =
      a.stdout.includes('2 runs (1 agents x 2 seeds), in-process') && !a.stdout.includes('already finished')
        ? [a, b]
        : [b, a];
    expect(ran.code, ran.stderr).to.equal(0);
    expect(ran.stdout).to.not.contain('already finished');
    if (other.code === 0) expect(other.stdout).to.contain('2 already finished');
    else {
      expect(other.code).to.equal(1);
      expect(other.stderr).to.match(
        new RegExp(`^error: ${out}: another sweep is writing to this folder \\(pid \\d+ on `),
      );
    }
  });

  it('trains every run exactly once and leaves whole files', async () => {
    for (const seed of [0, 1]) {
      const dir = path.join(out, 'ce', `seed-${seed}`);
      const log = await readMetricsLog(path.join(dir, 'metrics.jsonl'));
      expect(
        log.records.filter((r) => r.type === 'run:start'),
        `seed ${seed}`,
      ).to.have.length(1);
      expect(log.records.filter((r) => r.type === 'train:step').map((r) => r.step)).to.deep.equal([1, 2, 3]);
      const result = JSON.parse(fs.readFileSync(path.join(dir, 'result.json'), 'utf8')) as RunResult;
      expect(result.status).to.equal('ok');
    }
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as Summary;
    expect(summary.agents[0].seeds).to.deep.equal([0, 1]);
    expect([...snapshot(out).keys()].filter((f) => /\.tmp-|\.lock/.test(f))).to.deep.equal([]);
  });
});

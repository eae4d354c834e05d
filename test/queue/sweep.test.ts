import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { useBackend } from '../helpers/backend.js';
import { runSweep } from '../../src/experiment/runner.js';
import { runCommand } from '../../src/commands/run.js';
import { queueCleanCommand, queueStatusCommand } from '../../src/commands/queue.js';
import type { RunResult } from '../../src/report/types.js';
import type { Summary } from '../../src/report/summary.js';
import { runCli } from '../reliability/fixtures.js';
import {
  killWorker,
  numbers,
  tinySweep,
  requireRedis,
  startRedis,
  startWorker,
  type TestRedis,
  type TestWorker,
} from './helpers.js';

const result = (dir: string, agent: string, seed: number): RunResult =>
  JSON.parse(fs.readFileSync(path.join(dir, agent, `seed-${seed}`, 'result.json'), 'utf8')) as RunResult;

const took = (w: TestWorker) => (w.output().match(/^took /gm) ?? []).length;

describe('queue: a sweep on two workers through a BullMQ queue', function () {
  this.timeout(240_000);
  let redis: TestRedis | undefined;
  let workers: TestWorker[] = [];
  let tmp: string;
  let file: string;
  let local: string;
  let out: string;
  let first: Awaited<ReturnType<typeof runCli>>;

  before(async function () {
    requireRedis(this);
    await useBackend('cpu');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fprl-queue-sweep-'));
    file = path.join(tmp, 'tiny.json');
    fs.writeFileSync(file, JSON.stringify(tinySweep()));
    redis = await startRedis();
    workers = await Promise.all([startWorker(redis.url), startWorker(redis.url)]);
    local = path.join(tmp, 'local');
    await runSweep({ experiment: file, out: local, backend: 'cpu', progress: 'none' });
    out = path.join(tmp, 'shared', 'sweep');
    first = await runCli(['run', file, '--queue', redis.url, '--out', out, '--progress', 'lines']);
  });
  after(async () => {
    for (const w of workers) await killWorker(w);
    await redis?.stop();
    if (redis) fs.rmSync(redis.dir, { recursive: true, force: true });
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('gives per-seed metrics identical to fprl run on one machine', () => {
    expect(first.code, first.stderr).to.equal(0);
    for (const agent of ['ce', 'rl']) {
      for (const seed of [0, 1]) {
        const q = result(out, agent, seed);
        expect(q.status, q.error).to.equal('ok');
        expect(numbers(q), `${agent}/seed-${seed}`).to.deep.equal(numbers(result(local, agent, seed)));
      }
    }
    expect(workers.map(took).reduce((a, b) => a + b)).to.equal(4);
  });

  it('writes summary.json and report.html for the whole sweep when the last run finished', () => {
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as Summary;
    const want = JSON.parse(fs.readFileSync(path.join(local, 'summary.json'), 'utf8')) as Summary;
    expect(summary.agents.map((a) => a.seeds)).to.deep.equal([
      [0, 1],
      [0, 1],
    ]);
    expect(summary.agents.map((a) => a.metrics)).to.deep.equal(want.agents.map((a) => a.metrics));
    expect(fs.existsSync(path.join(out, 'report.html'))).to.equal(true);
    expect(first.stdout).to.match(/4 runs .* on the queue redis:\/\/127\.0\.0\.1:\d+/);
    const env = JSON.parse(fs.readFileSync(path.join(out, 'environment.json'), 'utf8')) as { queue?: string };
    expect(env.queue).to.equal(`queue ${redis!.url}`);
  });

  it("shows one progress view of every run, fed by the workers' job progress events", () => {
    for (const run of ['ce/seed-0', 'ce/seed-1', 'rl/seed-0', 'rl/seed-1']) {
      expect(first.stderr).to.match(new RegExp(`${run}: step 4/4`));
      expect(first.stderr).to.match(new RegExp(`${run}: done in`));
    }
    expect(first.stderr).to.contain('sweep: runs 4/4');
  });

  it('submitted again, trains no finished run again', async () => {
    const before = workers.map(took);
    const again = await runCli(['run', file, '--queue', redis!.url, '--out', out, '--quiet']);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.contain('4 already finished');
    expect(workers.map(took)).to.deep.equal(before);
    expect(numbers(result(out, 'rl', 1))).to.deep.equal(numbers(result(local, 'rl', 1)));
  });

  it('fprl queue status lists the sweep (4 done); clean removes its finished jobs', async () => {
    const lines: string[] = [];
    const sweeps = await queueStatusCommand(redis!.url, (l) => lines.push(l));
    expect(sweeps).to.have.length(1);
    expect(sweeps[0].sweepId).to.match(/^tiny-[0-9a-f]{12}$/);
    expect(sweeps[0].sweepDir).to.equal(out);
    expect(sweeps[0].counts).to.deep.equal({ waiting: 0, running: 0, done: 4, failed: 0 });
    expect(lines.join('\n')).to.match(/tiny-[0-9a-f]{12} {2}waiting 0 {2}running 0 {2}done 4 {2}failed 0/);
    expect(await queueCleanCommand(redis!.url, { sweep: 'other-000000000000' }, () => undefined)).to.equal(0);
    expect(await queueCleanCommand(redis!.url, {}, () => undefined)).to.equal(4);
    expect(await queueStatusCommand(redis!.url, () => undefined)).to.deep.equal([]);
  });

  it('two submitters of different sweeps share the queue without mixing results', async () => {
    const fileB = path.join(tmp, 'other.json');
    fs.writeFileSync(fileB, JSON.stringify(tinySweep({ name: 'other', seeds: [1] })));
    const a = path.join(tmp, 'shared', 'a');
    const b = path.join(tmp, 'shared', 'b');
    const quiet = () => undefined;
    const [ra, rb] = await Promise.all([
      runCommand(file, { queue: redis!.url, out: a, seeds: [0], quiet: true }, quiet),
      runCommand(fileB, { queue: redis!.url, out: b, quiet: true }, quiet),
    ]);
    expect(ra.summary.failed).to.deep.equal([]);
    expect(rb.summary.failed).to.deep.equal([]);
    for (const agent of ['ce', 'rl']) {
      expect(numbers(result(a, agent, 0))).to.deep.equal(numbers(result(local, agent, 0)));
      expect(numbers(result(b, agent, 1))).to.deep.equal(numbers(result(local, agent, 1)));
      expect(fs.existsSync(path.join(a, agent, 'seed-1'))).to.equal(false);
      expect(fs.existsSync(path.join(b, agent, 'seed-0'))).to.equal(false);
    }
    const sweeps = await queueStatusCommand(redis!.url, quiet);
    expect(sweeps.map((s) => [s.sweepId.split('-')[0], s.sweepDir, s.counts.done])).to.have.deep.members([
      ['tiny', a, 2],
      ['other', b, 2],
    ]);
  });
});

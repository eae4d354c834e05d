import { expect } from 'chai';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { useBackend } from '../helpers/backend.js';
import { runSweep, type SweepOutcome } from '../../src/experiment/runner.js';
import { runCommand } from '../../src/commands/run.js';
import { readCheckpointMeta } from '../../src/train/checkpoint.js';
import { readMetricsLog } from '../../src/sinks/index.js';
import { jobIdOf, sweepIdOf } from '../../src/queue/jobs.js';
import { parseQueueUrl } from '../../src/queue/connection.js';
import { refusalSync } from '../helpers/refusal.js';
import { packageInfo } from '../../src/experiment/environment.js';
import type { ExperimentConfig } from '../../src/experiment/schema.js';
import type { RunResult } from '../../src/report/types.js';
import { expectCleanFailure, runCli, spawnCli, finished } from '../reliability/fixtures.js';
import {
  addJob,
  freePort,
  jobOf,
  killWorker,
  numbers,
  requireRedis,
  startRedis,
  startWorker,
  waitFor,
  type TestRedis,
  type TestWorker,
} from './helpers.js';

/**
 * One REINFORCE agent whose reward answers after 40 ms an image (slow-reward.ts): a run of 16
 * steps takes a couple of seconds, long enough to kill or stop its worker after a checkpoint.
 */
function slowSweep(seeds: number[]): Record<string, unknown> {
  return {
    name: 'slow',
    dataset: { kind: 'synthetic', size: 16, train: 16, val: 4, test: 4, seed: 0 },
    model: { preset: 'tiny-64', patchSize: 4, dim: 16, depth: 1, heads: 2, mlpDim: 32, dropout: 0 },
    training: { steps: 16, batchSize: 2, evalEvery: 8, checkpointEvery: 4, evalBatchSize: 4 },
    rewardModules: [path.join(import.meta.dirname, 'slow-reward.ts')],
    agents: [
      {
        name: 'rl',
        kind: 'reinforce',
        baseline: 'ema',
        samples: 1,
        rewards: [{ plugin: 'slow-accuracy', options: { ms: 40 } }],
      },
    ],
    seeds,
    evaluation: { pictures: 0, batchSize: 4 },
  };
}

const result = (dir: string, seed: number): RunResult =>
  JSON.parse(fs.readFileSync(path.join(dir, 'rl', `seed-${seed}`, 'result.json'), 'utf8')) as RunResult;

const checkpointStep = async (dir: string, seed: number) =>
  (await readCheckpointMeta(path.join(dir, 'rl', `seed-${seed}`, 'checkpoints')))?.step ?? 0;

/** The training steps each session of the run logged (a session begins with run:start). */
async function sessions(dir: string, seed: number): Promise<number[][]> {
  const log = await readMetricsLog(path.join(dir, 'rl', `seed-${seed}`, 'metrics.jsonl'));
  const out: number[][] = [];
  for (const r of log.records) {
    if (r.type === 'run:start') out.push([]);
    else if (r.type === 'train:step') out[out.length - 1].push(r.step as number);
  }
  return out;
}

/** The sweep's resolved config, as the submitter wrote it (the sweep id hashes it). */
const storedConfig = (out: string) =>
  JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as ExperimentConfig;

const ALL_STEPS = Array.from({ length: 16 }, (_, i) => i + 1);

describe('queue faults: killed and stopped workers, a restarted Redis, failing runs, bad jobs', function () {
  this.timeout(240_000);
  let redis: TestRedis | undefined;
  const workers: TestWorker[] = [];
  let tmp: string;
  let file: string;
  let local: string;
  const quiet = () => undefined;
  /** Submit the slow sweep for `seeds` into `out` (in this process), without waiting. */
  const submit = (out: string, seeds: number[]): Promise<SweepOutcome> =>
    runCommand(file, { queue: redis!.url, out, seeds, quiet: true }, quiet);
  const jobId = (out: string, seed: number) => jobIdOf(sweepIdOf(out, storedConfig(out)), `rl/seed-${seed}`);

  before(async function () {
    requireRedis(this);
    await useBackend('cpu');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fprl-queue-faults-'));
    file = path.join(tmp, 'slow.json');
    fs.writeFileSync(file, JSON.stringify(slowSweep([0, 1, 2, 3])));
    redis = await startRedis({ persist: true });
    local = path.join(tmp, 'local');
    await runSweep({ experiment: file, out: local, seeds: [0, 1, 2], backend: 'cpu', progress: 'none' });
  });
  after(async () => {
    for (const w of workers) await killWorker(w);
    await redis?.stop();
    if (redis) fs.rmSync(redis.dir, { recursive: true, force: true });
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('a worker killed with SIGKILL mid-run: its job is found stalled, another worker resumes the run from its checkpoint, and the final metrics equal an uninterrupted run', async () => {
    const out = path.join(tmp, 'killed');
    const w1 = await startWorker(redis!.url, ['--stall-after', '2']);
    workers.push(w1);
    const sweep = submit(out, [0]);
    await waitFor(async () => (await checkpointStep(out, 0)) >= 4, 'the first checkpoint', 60_000, w1.exited);
    await killWorker(w1);
    const killedAt = await checkpointStep(out, 0);
    expect(killedAt).to.be.below(16);
    expect(fs.existsSync(path.join(out, 'rl', 'seed-0', 'result.json'))).to.equal(false);
    const w2 = await startWorker(redis!.url, ['--stall-after', '2']);
    workers.push(w2);
    const outcome = await sweep;
    expect(outcome.summary.failed).to.deep.equal([]);
    expect(w2.output()).to.contain(`took ${jobId(out, 0)}`);
    expect(numbers(result(out, 0))).to.deep.equal(numbers(result(local, 0)));
    // Two sessions; the second resumed from the killed one's checkpoint (it did not start over).
    const [killed, resumed] = await sessions(out, 0);
    expect(resumed[0]).to.equal(killedAt + 1);
    expect(resumed).to.deep.equal(ALL_STEPS.slice(killedAt));
    expect(killed.slice(0, killedAt)).to.deep.equal(ALL_STEPS.slice(0, killedAt));
  });

  it('a worker sent SIGTERM stops its run at the next checkpoint, hands the job back and exits 0; the next worker finishes it with the same numbers', async () => {
    const out = path.join(tmp, 'stopped');
    const w2 = workers[1];
    const sweep = submit(out, [1]);
    await waitFor(async () => (await checkpointStep(out, 1)) >= 4, 'the first checkpoint', 60_000, w2.exited);
    w2.child.kill('SIGTERM');
    const exit = await w2.exited;
    expect(exit, w2.output()).to.deep.equal({ code: 0, signal: null });
    expect(w2.output()).to.match(new RegExp(`handed back ${jobId(out, 1)} at its checkpoint of step (8|12)`));
    expect(w2.output()).to.contain('stopped');
    expect((await jobOf(redis!.url, jobId(out, 1)))?.state).to.equal('waiting');
    expect(fs.existsSync(path.join(out, 'rl', 'seed-1', 'result.json'))).to.equal(false);
    const w3 = await startWorker(redis!.url, ['--stall-after', '10']);
    workers.push(w3);
    const outcome = await sweep;
    expect(outcome.summary.failed).to.deep.equal([]);
    expect(numbers(result(out, 1))).to.deep.equal(numbers(result(local, 1)));
    // Stopped exactly at a checkpoint: the next session goes on from there, each step once.
    const runs = await sessions(out, 1);
    expect(runs).to.have.length(2);
    expect(runs.flat()).to.deep.equal(ALL_STEPS);
  });

  it('Redis restarted mid-sweep (append-only file on): the worker and the submitter reconnect and the sweep finishes with the same numbers', async () => {
    const out = path.join(tmp, 'restarted');
    const w3 = workers[2];
    const sweep = submit(out, [2]);
    await waitFor(async () => (await checkpointStep(out, 2)) >= 4, 'the first checkpoint', 60_000, w3.exited);
    await redis!.stop();
    await new Promise((r) => setTimeout(r, 1000));
    await redis!.start();
    const outcome = await sweep;
    expect(outcome.summary.failed).to.deep.equal([]);
    expect(numbers(result(out, 2))).to.deep.equal(numbers(result(local, 2)));
    expect(w3.child.exitCode).to.equal(null);
  });

  it('a run that fails deterministically (a NaN reward) is reported with its error and not retried', async () => {
    const out = path.join(tmp, 'nan');
    const nanFile = path.join(tmp, 'nan.json');
    const exp = slowSweep([0]);
    exp.name = 'nan';
    exp.rewardModules = [path.join(import.meta.dirname, '..', 'reliability', 'faulty-reward.ts')];
    exp.agents = [
      {
        name: 'rl',
        kind: 'reinforce',
        baseline: 'none',
        samples: 1,
        rewards: [{ plugin: 'faulty-after', options: { after: 4, fault: 'nan' } }],
      },
    ];
    fs.writeFileSync(nanFile, JSON.stringify(exp));
    const w3 = workers[2];
    const r = await runCli(['run', nanFile, '--queue', redis!.url, '--out', out, '--quiet']);
    expectCleanFailure(r, { where: out, message: '1 of 1 runs failed', hint: '--retry-failed' });
    expect(r.stdout).to.match(/failed: rl\/seed-0: .*NaN/);
    expect(result(out, 0).error).to.contain('faulty-after');
    const id = jobIdOf(sweepIdOf(out, storedConfig(out)), 'rl/seed-0');
    const job = await jobOf(redis!.url, id);
    expect(job?.state).to.equal('failed');
    expect(job?.job.attemptsMade).to.equal(1);
    expect(job?.job.failedReason).to.contain('faulty-after');
    expect(w3.output().split(`took ${id}`)).to.have.length(2); // taken once
  });

  it('a submitter killed mid-sweep and started again waits on the job already running (trained once)', async () => {
    const out = path.join(tmp, 'resubmitted');
    const w3 = workers[2];
    const child = spawnCli(['run', file, '--queue', redis!.url, '--out', out, '--seeds', '3', '--quiet']);
    const done = finished(child);
    await waitFor(async () => (await checkpointStep(out, 3)) >= 4, 'the first checkpoint', 60_000, done);
    child.kill('SIGKILL');
    await done;
    const again = await submit(out, [3]);
    expect(again.summary.failed).to.deep.equal([]);
    expect(again.ran).to.deep.equal(['rl/seed-3']);
    expect(w3.output().split(`took ${jobId(out, 3)}`)).to.have.length(2); // taken once
    expect(await sessions(out, 3)).to.deep.equal([ALL_STEPS]);
  });

  describe('bad jobs are refused by the worker with a clear reason', () => {
    const waitFailed = async (id: string) => {
      await waitFor(
        async () => (await jobOf(redis!.url, id))?.state === 'failed',
        `job ${id} to fail`,
        60_000,
      );
      return (await jobOf(redis!.url, id))!.job;
    };
    const payload = (over: Record<string, unknown>) => ({
      version: packageInfo().version,
      sweepId: 'bad-000000000000',
      sweepDir: path.join(tmp, 'bad'),
      config: slowSweep([0]),
      run: { id: 'rl/seed-0', agent: 'rl', seed: 0 },
      ...over,
    });

    it('a job of another fprl version, naming both versions', async () => {
      await addJob(redis!.url, 'bad-version/rl/seed-0', payload({ version: '0.0.0-other' }));
      const job = await waitFailed('bad-version/rl/seed-0');
      expect(job.failedReason).to.contain(`this worker runs fprl ${packageInfo().version}`);
      expect(job.failedReason).to.contain('submitted with fprl 0.0.0-other');
    });

    it('a payload that fails the experiment schema, at once (not retried)', async () => {
      const config = { ...slowSweep([0]), training: { steps: -3 } };
      await addJob(redis!.url, 'bad-schema/rl/seed-0', payload({ config }), 3);
      const job = await waitFailed('bad-schema/rl/seed-0');
      expect(job.failedReason).to.contain('queue job bad-schema/rl/seed-0: config');
      expect(job.failedReason).to.contain('/training/steps');
      expect(job.attemptsMade).to.equal(1);
    });

    it('a sweep folder this worker does not see, naming the folder and the host', async () => {
      await addJob(redis!.url, 'bad-folder/rl/seed-0', payload({ sweepDir: path.join(tmp, 'nowhere') }));
      const job = await waitFailed('bad-folder/rl/seed-0');
      expect(job.failedReason).to.contain(`${path.join(tmp, 'nowhere')} (on ${os.hostname()})`);
      expect(job.failedReason).to.contain("cannot read the sweep's config.json");
      expect(job.failedReason).to.contain('same path on every worker');
    });

    it('a sweep folder this worker cannot write', async function () {
      // Root writes into any folder: as root, the job goes to a worker running as nobody (the
      // others stop first, so that it is the one that takes it); otherwise to the running worker.
      const asRoot = process.getuid?.() === 0;
      const dir = path.join(tmp, 'read-only');
      const config = slowSweep([0]);
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
      if (asRoot) {
        fs.chmodSync(tmp, 0o755); // nobody may read the folder, not write it
        for (const w of workers) await killWorker(w);
        try {
          workers.push(await startWorker(redis!.url, [], { uid: 65534, gid: 65534 }));
        } catch (e) {
          // e.g. a checkout under a folder only root may read
          console.log(`    (skipped: as root, and a worker as nobody did not start: ${(e as Error).message.split('\n')[0]})`);
          this.skip();
        }
      } else fs.chmodSync(dir, 0o555);
      await addJob(redis!.url, 'bad-write/rl/seed-0', payload({ sweepDir: dir, config }));
      const job = await waitFailed('bad-write/rl/seed-0');
      fs.chmodSync(dir, 0o755);
      expect(job.failedReason).to.contain('cannot write into the sweep folder');
    });
  });
});

describe('queue: a wrong or unreachable queue URL', function () {
  this.timeout(60_000);
  let tmp: string;
  let file: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fprl-queue-url-'));
    file = path.join(tmp, 'slow.json');
    fs.writeFileSync(file, JSON.stringify(slowSweep([0])));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('fprl run --queue with nothing listening fails within seconds, naming the URL, and writes nothing', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const out = path.join(tmp, 'out');
    const t0 = Date.now();
    const r = await runCli(['run', file, '--queue', url, '--out', out]);
    expect(Date.now() - t0).to.be.below(10_000);
    expectCleanFailure(r, {
      where: url,
      message: "cannot reach the queue's Redis",
      hint: 'start Redis there',
    });
    expect(fs.existsSync(out)).to.equal(false);
  });

  it('fprl worker --queue at a port that accepts but never answers (not Redis) fails within seconds, not a hang', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const url = `redis://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    try {
      const t0 = Date.now();
      const r = await runCli(['worker', '--queue', url]);
      expect(Date.now() - t0).to.be.below(10_000);
      expectCleanFailure(r, { where: url, message: 'no answer within 5 s' });
    } finally {
      silent.close();
    }
  });

  it('fprl worker --queue with a URL that is not a Redis URL is refused at once', async () => {
    const r = await runCli(['worker', '--queue', 'http://127.0.0.1:6379']);
    expectCleanFailure(r, {
      where: '--queue',
      message: "'http://127.0.0.1:6379' is not a Redis URL",
      hint: 'redis://',
    });
    const db = await runCli(['queue', 'status', 'redis://127.0.0.1:6379/queue']);
    expectCleanFailure(db, { where: 'fprl queue status', message: 'not a database number' });
  });

  it('reads host, port, database and password from the URL, and never shows the password', () => {
    const a = parseQueueUrl('redis://:s3cret@queue-host:6380/2');
    expect(a.connection).to.include({ host: 'queue-host', port: 6380, db: 2, password: 's3cret' });
    expect(a.label).to.equal('redis://:***@queue-host:6380/2');
    expect(parseQueueUrl('redis://localhost').connection).to.include({ port: 6379, db: 0 });
    expect(parseQueueUrl('rediss://h:1').connection.tls).to.deep.equal({});
    expect(refusalSync(() => parseQueueUrl('redis://h:1/0?x=1')).message).to.contain('query');
    expect(refusalSync(() => parseQueueUrl('localhost:6379')).message).to.contain('not a Redis URL');
  });

  it('--workers, --threads and --backend do not go with --queue', async () => {
    const r = await runCli(['run', file, '--queue', 'redis://127.0.0.1:1', '--workers', '2']);
    expectCleanFailure(r, {
      where: '--workers',
      message: 'does not go with --queue',
      hint: 'fprl worker --slots',
    });
  });
});

import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { useBackend } from '../helpers/backend.js';
import { runSweep } from '../../src/experiment/runner.js';
import { LOCK_FILE } from '../../src/experiment/lock.js';
import { readCheckpointMeta } from '../../src/train/checkpoint.js';
import { readMetricsLog } from '../../src/sinks/index.js';
import type { RunResult } from '../../src/report/types.js';
import {
  checksum,
  finished,
  snapshot,
  spawnCli,
  tempDir,
  tinyExperiment,
  waitForFile,
  waitStopped,
  writeJson,
  type CliResult,
} from './fixtures.js';

/*
 * Crash safety and concurrency with real processes. One `fprl run` (a REINFORCE agent with
 * dropout and augmentation, so the model, sampling and data streams all matter) is frozen
 * (SIGSTOP) as soon as its first checkpoint appears; a second `fprl run` on the same folder
 * must refuse; then the first is killed (SIGKILL) and started again with the same --out. The
 * resumed sweep must end exactly where an uninterrupted one does: the same metrics, the same
 * learning curve, the same final weights.
 */
const STEPS = 24;

function experiment(): Record<string, unknown> {
  return tinyExperiment({
    dataset: { kind: 'synthetic', size: 16, train: 16, val: 4, test: 4, seed: 0, augment: true },
    model: { preset: 'tiny-64', patchSize: 4, dim: 16, depth: 1, heads: 2, mlpDim: 32, dropout: 0.1 },
    training: {
      steps: STEPS,
      batchSize: 2,
      checkpointEvery: 3,
      evalEvery: 12,
      logEvery: 1,
      evalBatchSize: 4,
    },
    agents: [{ name: 'rl', kind: 'reinforce', baseline: 'ema', samples: 2, rewards: [{ plugin: 'dice' }] }],
  });
}

const TIMING = /^perf\/|^seconds$/;

/** A result's learning curves without their timings (which differ from run to run). */
function curves(r: RunResult): unknown {
  const untimed = (m: Record<string, number> | undefined) =>
    Object.fromEntries(Object.entries(m ?? {}).filter(([k]) => !TIMING.test(k)));
  return {
    eval: r.curve.map((p) => ({ ...p, metrics: untimed(p.metrics) })),
    train: r.train?.map((p) => ({ ...p, scalars: untimed(p.scalars) })),
  };
}

describe('reliability: a killed sweep resumes to the same results; a second sweep on its folder is refused', function () {
  this.timeout(60_000);
  let tmp: string;
  let file: string;
  const full = () => path.join(tmp, 'full');
  const cut = () => path.join(tmp, 'cut');
  const run = (dir: string) => path.join(dir, 'rl', 'seed-0');
  const args = () => ['run', file, '--out', cut(), '--backend', 'cpu', '--quiet'];
  const result = (dir: string) =>
    JSON.parse(fs.readFileSync(path.join(run(dir), 'result.json'), 'utf8')) as RunResult;

  let first: ChildProcess;
  let killed: { signal: NodeJS.Signals | null };
  let second: CliResult;
  let whileFrozen: { before: Map<string, string>; after: Map<string, string> };
  let afterKill: { checkpointStep: number; files: Map<string, string>; lock: boolean };
  let restarted: CliResult;

  before(async () => {
    await useBackend('cpu');
    tmp = tempDir('crash');
    file = writeJson(tmp, 'crash.json', experiment());

    first = spawnCli(args());
    const firstDone = finished(first);
    await waitForFile(path.join(run(cut()), 'checkpoints', 'checkpoint.json'), first);
    first.kill('SIGSTOP'); // frozen mid-run, still alive, still holding the folder's lock
    await waitStopped(first.pid!); // the signal takes effect asynchronously

    try {
      const before = snapshot(cut());
      second = await finished(spawnCli(args()));
      whileFrozen = { before, after: snapshot(cut()) };
    } finally {
      first.kill('SIGKILL');
    }
    killed = await firstDone;
    afterKill = {
      checkpointStep: (await readCheckpointMeta(path.join(run(cut()), 'checkpoints')))!.step,
      files: snapshot(cut()),
      lock: fs.existsSync(path.join(cut(), LOCK_FILE)),
    };

    // The uninterrupted reference runs in this process while the restarted one runs.
    [restarted] = await Promise.all([
      finished(spawnCli(args())),
      runSweep({ experiment: file, out: full(), backend: 'cpu', progress: 'none' }),
    ]);
  });
  after(() => {
    first?.kill('SIGKILL');
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('refuses a second sweep on a folder a live sweep is writing, naming the owner, and writes nothing', () => {
    expect(second.code).to.equal(1);
    expect(second.stderr).to.contain(
      `error: ${cut()}: another sweep is writing to this folder (pid ${first.pid} on `,
    );
    expect(second.stderr).to.contain('hint: wait for it to finish or choose another --out');
    expect(whileFrozen.after).to.deep.equal(whileFrozen.before);
  });

  it('was killed mid-run: a checkpoint before the last step, no result, the lock left behind', () => {
    expect(killed.signal).to.equal('SIGKILL');
    expect(afterKill.checkpointStep).to.be.within(3, STEPS - 1);
    expect(afterKill.files.has(path.join('rl', 'seed-0', 'result.json'))).to.equal(false);
    expect(afterKill.files.has('summary.json')).to.equal(false);
    expect(afterKill.lock).to.equal(true);
  });

  it('restarts with the same --out: takes over the dead lock and resumes from the last checkpoint', async () => {
    expect(restarted.code, restarted.stderr).to.equal(0);
    expect(fs.existsSync(path.join(cut(), LOCK_FILE))).to.equal(false);
    const log = await readMetricsLog(path.join(run(cut()), 'metrics.jsonl'));
    const starts = log.records.flatMap((r, i) => (r.type === 'run:start' ? [i] : []));
    expect(starts, 'two sessions in the log').to.have.length(2);
    const resumedSteps = log.records.slice(starts[1]).filter((r) => r.type === 'train:step');
    expect(resumedSteps[0].step, 'first step after the restart').to.equal(afterKill.checkpointStep + 1);
    expect(resumedSteps.at(-1)?.step).to.equal(STEPS);
    expect(result(cut()).status).to.equal('ok');
  });

  it('ends with the same final metrics and learning curves as an uninterrupted sweep', () => {
    const [a, b] = [result(cut()), result(full())];
    expect(a.final).to.deep.equal(b.final);
    expect(curves(a)).to.deep.equal(curves(b));
    expect(a.train?.length).to.equal(STEPS);
  });

  it('ends with byte-identical final weights, optimiser state and agent state', () => {
    const at = (dir: string, f: string) => path.join(run(dir), 'checkpoints', 'agent', f);
    for (const f of ['policy/weights.bin', 'optimizer.bin', 'agent.json']) {
      expect(checksum(at(cut(), f)), f).to.equal(checksum(at(full(), f)));
    }
    // The manifests name each variable with the model's scope, numbered per process
    // (`vit0/...` in a fresh one); slots load by order and shape, so compare without it.
    const manifest = (dir: string) =>
      fs.readFileSync(at(dir, 'optimizer.json'), 'utf8').replace(/\bvit\d+\//g, 'vit/');
    expect(manifest(cut())).to.equal(manifest(full()));
  });

  it('leaves no temporary files behind (every file was written atomically)', () => {
    const stray = [...snapshot(cut()).keys()].filter((f) => /\.tmp-|\.old$|\.stale-/.test(f));
    expect(stray).to.deep.equal([]);
    const summary = JSON.parse(fs.readFileSync(path.join(cut(), 'summary.json'), 'utf8')) as {
      failed: unknown[];
    };
    expect(summary.failed).to.deep.equal([]);
  });
});

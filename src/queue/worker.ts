/**
 * `fprl worker --queue URL`: takes runs from the queue and trains each in a child process (the
 * `__worker` processes `fprl run --workers` uses, src/experiment/worker-pool.ts), one per slot.
 * Training is CPU-bound and would starve this process's event loop, where BullMQ renews the
 * job locks; in a child it cannot, so a worker is declared stalled only when it really is gone.
 *
 * Per job: the payload is checked (shape, fprl version, the experiment schema), then the shared
 * folder (this machine sees the sweep's config.json at the same path, and can write there).
 * The run resumes from its checkpoint when it has one (a stalled job retried here after another
 * worker was killed), writes into the shared folder, and its progress events become the job's
 * progress. Outcomes:
 * - the run finished: the job completes;
 * - the run failed on its own (result.json says failed: a NaN, a throwing reward): the job fails
 *   at once (UnrecoverableError): it would fail the same way again;
 * - the child process died, or this machine cannot serve the job (version, folder): an ordinary
 *   failure, retried by BullMQ (attempts, backoff), possibly on another worker;
 * - stopped for a shutdown at a checkpoint: the job goes back to waiting (WaitingError) and
 *   resumes from that checkpoint on the next worker that takes it.
 */
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { FprlError, isFprlError } from '../core/errors.js';
import { packageInfo } from '../experiment/environment.js';
import { sweepPaths } from '../experiment/layout.js';
import { resolveExperiment } from '../experiment/load.js';
import type { ForwardedEvent } from '../experiment/protocol.js';
import { WorkerExecutor } from '../experiment/worker-pool.js';
import type { ThreadChoice } from '../train/parallel.js';
import { QUEUE_NAME, type QueueAddress } from './connection.js';
import type { RunJobData, RunJobReturn } from './jobs.js';

export interface QueueWorkerOptions {
  address: QueueAddress;
  /** Runs trained at once, each in its own child process (default 1). */
  slots?: number;
  /** Data-parallel threads of each run. */
  threads?: ThreadChoice;
  /** Backend choice of the child processes (default auto). */
  backend?: string;
  /**
   * Seconds without a lock renewal after which a job counts as stalled and is queued again
   * (BullMQ's lockDuration; also the stalled-check interval). Default 30.
   */
  stallSeconds?: number;
  /** One line per job taken and finished, and connection trouble. */
  print?: (line: string) => void;
}

export interface QueueWorker {
  /** Stop taking jobs, stop the running runs at their next checkpoint, hand their jobs back, exit the children. */
  stop(): Promise<void>;
  /** Resolves once stopped. */
  readonly stopped: Promise<void>;
}

/** One child process and the job it is running. */
interface Slot {
  executor: WorkerExecutor;
  job?: Job<RunJobData, RunJobReturn>;
}

const where = (job: Job) => `queue job ${job.id}`;

/** The payload, checked: a bad one is final (it is the same for every worker). */
async function checkPayload(job: Job): Promise<RunJobData> {
  const d = job.data as Partial<RunJobData> | undefined;
  const bad = (what: string) =>
    new UnrecoverableError(
      new FprlError(`the job's payload is not a run of an fprl sweep: ${what}`, {
        where: where(job),
        hint: 'submit sweeps with fprl run EXPERIMENT.json --queue URL',
      }).describe(),
    );
  if (!d || typeof d !== 'object') throw bad('it is not an object');
  if (typeof d.version !== 'string') throw bad('no version');
  if (typeof d.sweepDir !== 'string' || !path.isAbsolute(d.sweepDir))
    throw bad('sweepDir is not an absolute path');
  const r = d.run;
  if (!r || typeof r.id !== 'string' || typeof r.agent !== 'string' || !Number.isInteger(r.seed))
    throw bad('run is not { id, agent, seed }');
  if (!d.config || typeof d.config !== 'object') throw bad('no config');
  const mine = packageInfo().version;
  if (d.version !== mine) {
    // Another worker may have the submitter's version: an ordinary failure, retried.
    throw new Error(
      new FprlError(
        `this worker runs fprl ${mine} but the sweep was submitted with fprl ${d.version}; it will not train it (the numbers could differ)`,
        {
          where: `${where(job)} on ${os.hostname()}`,
          hint: `install fprl ${d.version} on this worker (or resubmit with ${mine}), then restart it`,
        },
      ).describe(),
    );
  }
  try {
    await resolveExperiment(d.config, { where: `${where(job)}: config`, baseDir: d.sweepDir });
  } catch (e) {
    throw new UnrecoverableError(isFprlError(e) ? e.describe() : (e as Error).message);
  }
  return d as RunJobData;
}

/**
 * This machine sees the sweep folder (its config.json is the job's config) and can write into
 * it; otherwise an ordinary failure naming the folder and the host (another worker may see it).
 */
async function checkFolder(job: Job, data: RunJobData): Promise<void> {
  const host = os.hostname();
  const problem = (message: string, hint: string) =>
    new Error(new FprlError(message, { where: `${data.sweepDir} (on ${host})`, hint }).describe());
  const shared =
    'mount the shared runs folder at the same path on every worker and on the submitter (docs/QUEUE.md)';
  let stored: unknown;
  try {
    stored = JSON.parse(await fs.readFile(sweepPaths(data.sweepDir).config, 'utf8'));
  } catch (e) {
    throw problem(`this worker cannot read the sweep's config.json: ${(e as Error).message}`, shared);
  }
  if (!isDeepStrictEqual(stored, JSON.parse(JSON.stringify(data.config)))) {
    throw problem(
      `the sweep folder here holds another config than job ${job.id} was submitted with`,
      `${shared}; a folder of that path local to this machine is not the shared one`,
    );
  }
  const probe = path.join(data.sweepDir, `.fprl-worker-probe-${host}-${process.pid}`);
  try {
    await fs.writeFile(probe, '');
    await fs.rm(probe, { force: true });
  } catch (e) {
    throw problem(
      `this worker cannot write into the sweep folder: ${(e as Error).message}`,
      'give the user running fprl worker write access to the shared runs folder',
    );
  }
}

/** Start taking jobs (see the module comment). */
export function serveQueue(opts: QueueWorkerOptions): QueueWorker {
  const print = opts.print ?? (() => undefined);
  const slotCount = Math.max(1, Math.floor(opts.slots ?? 1));
  const stallMs = Math.max(1, opts.stallSeconds ?? 30) * 1000;
  const host = os.hostname();
  let stopping = false;
  const slots: Slot[] = [];
  const idle: Slot[] = [];
  for (let i = 0; i < slotCount; i++) {
    const slot: Slot = {
      executor: new WorkerExecutor({
        backend: opts.backend ?? 'auto',
        threads: opts.threads,
        args: ['--stop-on-signal'],
        onEvent: (e: ForwardedEvent) => {
          // Progress is a courtesy: a lost update must not fail the run.
          slot.job?.updateProgress(e as unknown as object).catch(() => undefined);
        },
        onWarning: (runId, text) => print(`${runId}: warning: ${text}`),
      }),
    };
    slots.push(slot);
    idle.push(slot);
  }

  const processor = async (job: Job<RunJobData, RunJobReturn>, token?: string): Promise<RunJobReturn> => {
    const data = await checkPayload(job);
    await checkFolder(job, data);
    const slot = idle.pop();
    // BullMQ's concurrency equals the slot count, so a slot is always free here.
    if (!slot) throw new Error('no free slot (concurrency and slots disagree)');
    slot.job = job;
    print(`took ${job.id} (attempt ${job.attemptsMade + 1})`);
    try {
      const outcome = await slot.executor.executeJob({ sweepDir: data.sweepDir, run: data.run });
      if (outcome.stoppedAt !== undefined) {
        await job.moveToWait(token);
        print(`handed back ${job.id} at its checkpoint of step ${outcome.stoppedAt}`);
        throw new WaitingError();
      }
      if (outcome.status === 'failed') {
        print(`failed ${job.id}: ${(outcome.error ?? '').split('\n')[0]}`);
        throw new UnrecoverableError(outcome.error ?? 'the run failed');
      }
      print(`finished ${job.id}`);
      return { status: 'ok', host, pid: process.pid };
    } finally {
      slot.job = undefined;
      idle.push(slot);
    }
  };

  const worker = new Worker<RunJobData, RunJobReturn>(QUEUE_NAME, processor, {
    connection: opts.address.connection,
    concurrency: slotCount,
    lockDuration: stallMs,
    stalledInterval: stallMs,
    maxStalledCount: 2,
  });
  let outage = false;
  worker.on('error', (e) => {
    if (outage) return;
    outage = true;
    print(`${opts.address.label}: ${e.message}; reconnecting`);
  });
  worker.on('ready', () => (outage = false));
  worker.on('lockRenewalFailed', (ids) =>
    print(
      `warning: could not renew the lock of ${ids.join(', ')}; if Redis stays out of reach longer than ` +
        'the stall time (--stall-after), another worker may take the run over',
    ),
  );
  worker.on('failed', (job, e) => {
    if (job && !(e instanceof UnrecoverableError) && e.name !== 'WaitingError')
      print(`attempt ${job.attemptsMade} of ${job.id} failed: ${e.message.split('\n')[0]}`);
  });

  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  const stop = async (): Promise<void> => {
    if (stopping) return stopped;
    stopping = true;
    const closing = worker.close(); // takes no new job; waits for the running ones
    for (const s of slots) s.executor.stop();
    await closing;
    await Promise.all(slots.map((s) => s.executor.close()));
    resolveStopped();
  };
  return { stop, stopped };
}

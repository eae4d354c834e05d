/**
 * `fprl run EXPERIMENT.json --queue URL`: the sweep runs as usual (src/experiment/runner.ts:
 * folder, lock, config.json, the initFrom DAG in fprl's scheduler, summary and report at the
 * end), but each run is handed to the queue as a job as soon as it is runnable, and carried out
 * by whichever `fprl worker` takes it. BullMQ flows are trees and a sweep's initFrom graph
 * need not be one, so the scheduler here, not BullMQ, decides when a run is runnable.
 *
 * The progress display is fed by the workers' job progress events (QueueEvents). A run's end
 * is read from the job's state, polled every few seconds as well as woken by QueueEvents: an
 * event missed while Redis restarted cannot leave the sweep waiting forever. The run's
 * result.json in the shared folder is its result, as on one machine.
 */
import { Queue, QueueEvents, type Job } from 'bullmq';
import path from 'node:path';
import { FprlError } from '../core/errors.js';
import { packageInfo } from '../experiment/environment.js';
import type { RunSpec } from '../experiment/plan.js';
import { FORWARDED_EVENTS, type ForwardedEvent } from '../experiment/protocol.js';
import { readRunResult } from '../experiment/results.js';
import type { RemoteContext, RemoteRuns } from '../experiment/runner.js';
import type { Executor, RunOutcome } from '../experiment/scheduler.js';
import { QUEUE_NAME, type QueueAddress } from './connection.js';
import { JOB_NAME, JOB_OPTIONS, jobIdOf, sweepIdOf, type RunJobData } from './jobs.js';

/** How often a waiting run's job state is read (QueueEvents usually wakes it first). */
const POLL_MS = 2000;

function isForwardedEvent(x: unknown): x is ForwardedEvent {
  const e = x as Partial<ForwardedEvent> | undefined;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.runId === 'string' &&
    (FORWARDED_EVENTS as readonly string[]).includes(e.type as string)
  );
}

export interface QueueRunsOptions {
  /** Lines for the user: warnings about the connection. */
  warn?: (line: string) => void;
  /** Poll interval of a waiting run, ms (default 2000). */
  pollMs?: number;
}

/** The runner's remote executors for a queue (see the module comment). */
export function queueRuns(address: QueueAddress, opts: QueueRunsOptions = {}): RemoteRuns {
  return {
    label: `queue ${address.label}`,
    open: (ctx) => openQueueRuns(address, ctx, opts),
  };
}

async function openQueueRuns(
  address: QueueAddress,
  ctx: RemoteContext,
  opts: QueueRunsOptions,
): Promise<{ executors: Executor[]; close(): Promise<void> }> {
  const warn = opts.warn ?? (() => undefined);
  const pollMs = opts.pollMs ?? POLL_MS;
  const queue = new Queue<RunJobData>(QUEUE_NAME, { connection: address.connection });
  const events = new QueueEvents(QUEUE_NAME, { connection: address.connection });
  // Connection trouble: said once per outage; ioredis reconnects and the polls carry on.
  let outage = false;
  const trouble = (e: Error) => {
    if (outage) return;
    outage = true;
    warn(`${address.label}: ${e.message}; reconnecting (the sweep waits)`);
  };
  queue.on('error', trouble);
  events.on('error', trouble);
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);

  const dir = path.resolve(ctx.dir);
  const sweepId = sweepIdOf(dir, ctx.config);
  const prefix = `${sweepId}/`;
  const version = packageInfo().version;
  const wakers = new Map<string, () => void>();
  events.on('progress', ({ jobId, data }) => {
    if (jobId.startsWith(prefix) && isForwardedEvent(data)) ctx.emit(data);
  });
  const wake = ({ jobId }: { jobId: string }) => wakers.get(jobId)?.();
  events.on('completed', wake);
  events.on('failed', wake);

  /** `f`, again after a pause while Redis is unreachable (a restart is waited out). */
  const patiently = async <T>(f: () => Promise<T>): Promise<T> => {
    for (;;) {
      try {
        const value = await f();
        outage = false;
        return value;
      } catch (e) {
        if (e instanceof FprlError) throw e;
        trouble(e as Error);
        await new Promise((r) => setTimeout(r, pollMs));
      }
    }
  };

  const sleep = (jobId: string) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, pollMs);
      function done() {
        clearTimeout(timer);
        wakers.delete(jobId);
        resolve();
      }
      wakers.set(jobId, done);
    });

  const submit = async (run: RunSpec): Promise<string> => {
    const jobId = jobIdOf(sweepId, run.id);
    const existing = await queue.getJob(jobId);
    if (existing) {
      const state = await existing.getState();
      // The runner hands over only runs without a result: a finished job is from an earlier
      // attempt (--retry-failed, or the folder's results were deleted), so it goes again.
      if (state !== 'completed' && state !== 'failed') return jobId; // queued or running: wait on it
      await existing.remove();
    }
    const data: RunJobData = { version, sweepId, sweepDir: dir, config: ctx.config, run };
    await queue.add(JOB_NAME, data, { ...JOB_OPTIONS, jobId });
    return jobId;
  };

  const outcomeOf = async (run: RunSpec, job: Job<RunJobData>, state: string): Promise<RunOutcome> => {
    const result = await readRunResult(dir, run);
    if (result) return { status: result.status, error: result.error };
    if (state === 'completed') {
      throw new FprlError(
        `a worker finished run ${run.id} but its result.json is not in the sweep folder here`,
        {
          where: path.join(dir, run.agent, `seed-${run.seed}`),
          hint:
            'the sweep folder must be one shared folder that the submitter and every worker see at ' +
            'the same path (e.g. an NFS mount): see docs/QUEUE.md',
        },
      );
    }
    // Failed before the run could write its result (refused job, worker crashes): the runner
    // records the failure in result.json.
    throw new Error(`the queue gave up on job ${job.id}: ${job.failedReason ?? 'no reason given'}`);
  };

  const execute = async (run: RunSpec): Promise<RunOutcome> => {
    const jobId = await patiently(() => submit(run));
    for (;;) {
      const pause = sleep(jobId);
      const seen = await patiently(async () => {
        const job = await queue.getJob(jobId);
        return job ? { job, state: await job.getState() } : undefined;
      });
      if (!seen) {
        wakers.get(jobId)?.();
        throw new Error(`job ${jobId} was removed from the queue before it finished (fprl queue clean?)`);
      }
      if (seen.state === 'completed' || seen.state === 'failed') {
        wakers.get(jobId)?.();
        return outcomeOf(run, seen.job, seen.state);
      }
      await pause;
    }
  };

  // One executor per run: every runnable run is on the queue at once; the workers' slots are the limit.
  const executor: Executor = { execute };
  return {
    executors: Array.from({ length: Math.max(1, ctx.runs.length) }, () => executor),
    close: async () => {
      for (const w of [...wakers.values()]) w();
      await events.close();
      await queue.close();
    },
  };
}

/**
 * `fprl queue status|clean URL`: what the queue holds, per sweep (waiting, running, done,
 * failed, with each failure's reason), and removing the finished jobs. Finished jobs are what
 * tells a resubmitted sweep that a run needs no job; the run's result.json in the sweep folder
 * tells it the same, so cleaning never makes a finished run train again.
 */
import { Queue, type Job, type JobType } from 'bullmq';
import { QUEUE_NAME, type QueueAddress } from './connection.js';
import { sweepOfJobId, type RunJobData } from './jobs.js';

export type JobGroup = 'waiting' | 'running' | 'done' | 'failed';

/** BullMQ's states in the four groups a user cares about. */
const GROUPS: Record<JobGroup, JobType[]> = {
  waiting: ['waiting', 'prioritized', 'delayed', 'waiting-children'],
  running: ['active'],
  done: ['completed'],
  failed: ['failed'],
};

export interface SweepJobs {
  sweepId: string;
  /** The sweep folder the jobs write into. */
  sweepDir?: string;
  counts: Record<JobGroup, number>;
  /** Runs per group (run ids, e.g. `ce/seed-0`). */
  runs: Record<JobGroup, string[]>;
  /** Each failed run with the first line of its reason. */
  failures: { run: string; reason: string }[];
}

const runOf = (job: Job<RunJobData>): string =>
  job.data?.run?.id ?? String(job.id).slice(sweepOfJobId(String(job.id)).length + 1);

async function withQueue<T>(address: QueueAddress, f: (q: Queue<RunJobData>) => Promise<T>): Promise<T> {
  const queue = new Queue<RunJobData>(QUEUE_NAME, { connection: address.connection });
  try {
    return await f(queue);
  } finally {
    await queue.close();
  }
}

/** Every sweep with jobs on the queue, in order of sweep id. */
export function queueStatus(address: QueueAddress): Promise<SweepJobs[]> {
  return withQueue(address, async (queue) => {
    const sweeps = new Map<string, SweepJobs>();
    for (const group of Object.keys(GROUPS) as JobGroup[]) {
      const jobs = await queue.getJobs(GROUPS[group], 0, -1, true);
      for (const job of jobs) {
        if (!job) continue;
        const sweepId = job.data?.sweepId ?? sweepOfJobId(String(job.id));
        let s = sweeps.get(sweepId);
        if (!s) {
          s = {
            sweepId,
            sweepDir: job.data?.sweepDir,
            counts: { waiting: 0, running: 0, done: 0, failed: 0 },
            runs: { waiting: [], running: [], done: [], failed: [] },
            failures: [],
          };
          sweeps.set(sweepId, s);
        }
        s.counts[group]++;
        s.runs[group].push(runOf(job));
        if (group === 'failed')
          s.failures.push({ run: runOf(job), reason: (job.failedReason ?? '').split('\n')[0] });
      }
    }
    const list = [...sweeps.values()].sort((a, b) => a.sweepId.localeCompare(b.sweepId));
    for (const s of list) for (const g of Object.keys(s.runs) as JobGroup[]) s.runs[g].sort();
    return list;
  });
}

/** The status as `fprl queue status` prints it. */
export function formatQueueStatus(label: string, sweeps: readonly SweepJobs[]): string {
  if (sweeps.length === 0) return `${label}: no jobs`;
  const lines = [`${label}: ${sweeps.length} sweep(s)`];
  for (const s of sweeps) {
    const c = s.counts;
    lines.push(
      `${s.sweepId}  waiting ${c.waiting}  running ${c.running}  done ${c.done}  failed ${c.failed}` +
        (s.sweepDir ? `  -> ${s.sweepDir}` : ''),
    );
    if (s.runs.running.length) lines.push(`  running: ${s.runs.running.join(', ')}`);
    for (const f of s.failures) lines.push(`  failed ${f.run}: ${f.reason}`);
  }
  return lines.join('\n');
}

/**
 * Remove finished jobs (done and failed), of one sweep or of all; queued and running jobs are
 * left alone. Returns the number removed.
 */
export function cleanQueue(address: QueueAddress, opts: { sweep?: string } = {}): Promise<number> {
  return withQueue(address, async (queue) => {
    let removed = 0;
    for (const job of await queue.getJobs(['completed', 'failed'], 0, -1, true)) {
      if (!job) continue;
      const sweepId = job.data?.sweepId ?? sweepOfJobId(String(job.id));
      if (opts.sweep !== undefined && sweepId !== opts.sweep) continue;
      await job.remove();
      removed++;
    }
    return removed;
  });
}

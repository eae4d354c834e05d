/**
 * A queue job is one run of a sweep (an agent x seed). Its id comes from the sweep and the run,
 * `<sweep id>/<agent>/seed-<n>`, so submitting a sweep again finds the jobs it already made
 * (BullMQ ignores an add whose id exists): a finished run is never trained twice and a
 * resubmitted sweep waits on the jobs still queued or running. The sweep id is the
 * experiment's name and a hash of the sweep folder and the config (seeds left out: a resumed
 * sweep may add seeds), so two sweeps on one queue never share a job.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { JobsOptions } from 'bullmq';
import type { ExperimentConfig } from '../experiment/schema.js';
import type { RunSpec } from '../experiment/plan.js';

/** Everything a worker needs to carry out a run; the sweep folder holds the rest (config.json). */
export interface RunJobData {
  /** The submitter's fprl version: a worker of another version refuses the job (it would train other numbers). */
  version: string;
  sweepId: string;
  /** The sweep folder, absolute; every worker sees it at this path (a shared folder). */
  sweepDir: string;
  /** The resolved config, as in the folder's config.json (checked by the worker against both). */
  config: ExperimentConfig;
  run: RunSpec;
}

/** What a worker's job returns: who trained the run (the run's numbers are in its result.json). */
export interface RunJobReturn {
  status: 'ok';
  host: string;
  pid: number;
}

export const JOB_NAME = 'run';

/**
 * Retries for what may go right on another try or another worker (a worker process that
 * crashed, a worker that does not see the shared folder or has another version); a run that
 * fails on its own (a NaN, a throwing reward) is final at once (UnrecoverableError). A worker
 * killed outright is not a failed attempt: BullMQ finds its job stalled and queues it again.
 * Finished jobs are kept (until `fprl queue clean`): they are how a resubmitted sweep knows.
 */
export const JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 5000 },
  removeOnComplete: false,
  removeOnFail: false,
};

/** The sweep's id: `<name>-<12 hex digits>`. */
export function sweepIdOf(sweepDir: string, config: ExperimentConfig): string {
  const identity = JSON.stringify({ dir: path.resolve(sweepDir), config: { ...config, seeds: [] } });
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 12);
  return `${config.name}-${hash}`;
}

export const jobIdOf = (sweepId: string, runId: string): string => `${sweepId}/${runId}`;

/** The sweep id of a job id (`<sweep>/<agent>/seed-<n>`). */
export const sweepOfJobId = (jobId: string): string => jobId.split('/')[0];

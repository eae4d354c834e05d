/**
 * The message protocol between a sweep and its worker processes (IPC with structured-clone
 * serialisation). A worker is the `fprl` CLI started with the internal `__worker` command: it
 * says `ready`, then takes one `run` at a time and answers `done`; in between it forwards the
 * run's progress events so the sweep's progress display sees every run. The run's files
 * (result.json above all) are the real result: `done` only says that they are written.
 */
import type { BusEvent } from '../core/bus.js';
import type { ThreadChoice } from '../train/parallel.js';
import type { RunSpec } from './plan.js';
import type { RunOutcome } from './scheduler.js';

/** Bus events a worker forwards to the sweep (small, plain payloads). */
export const FORWARDED_EVENTS = ['run:start', 'train:step', 'eval:end', 'checkpoint', 'run:end'] as const;
export type ForwardedEvent = BusEvent<(typeof FORWARDED_EVENTS)[number]>;

/** Everything a process needs to carry out one run of a sweep. */
export interface RunJob {
  /** The sweep folder; the resolved config is read from its config.json. */
  sweepDir: string;
  run: RunSpec;
  /** Data-parallel threads the sweep chose (`--threads`, the cores per worker); default one. */
  threads?: ThreadChoice;
}

/** `stop`: end the current run (and any later one) at its next checkpoint, unfinished (fprl worker's shutdown). */
export type ToWorker = { type: 'run'; job: RunJob } | { type: 'stop' } | { type: 'exit' };

export type FromWorker =
  | { type: 'ready'; pid: number }
  | { type: 'event'; event: ForwardedEvent }
  | { type: 'warning'; runId: string; text: string }
  | { type: 'done'; runId: string; outcome: RunOutcome }
  | { type: 'fatal'; error: string };

export const WORKER_COMMAND = '__worker';

export function isForwarded(e: BusEvent): e is ForwardedEvent {
  return (FORWARDED_EVENTS as readonly string[]).includes(e.type);
}

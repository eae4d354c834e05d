/**
 * Worker processes for `fprl run --workers N`: each is a fork of the `fprl` CLI running the
 * internal `__worker` command (see protocol.ts). The wasm backend computes on one thread per
 * process, so N workers use N cores. A worker that crashes (out of memory, a native abort)
 * fails only the run it was doing: the next run gets a fresh process.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ThreadChoice } from '../train/parallel.js';
import type { RunSpec } from './plan.js';
import {
  WORKER_COMMAND,
  type ForwardedEvent,
  type FromWorker,
  type RunJob,
  type ToWorker,
} from './protocol.js';
import type { Executor, RunOutcome } from './scheduler.js';

/** How to start the CLI in a child: the built .js directly, the .ts sources through tsx. */
export function cliLaunch(): { modulePath: string; execArgv: string[] } {
  const self = import.meta.url;
  const fromSources = self.endsWith('.ts');
  const modulePath = fileURLToPath(new URL(fromSources ? '../cli.ts' : '../cli.js', self));
  // Keep the parent's node flags (memory limits...), minus inspector flags that would clash on a port.
  const inherited = process.execArgv.filter((a) => !a.startsWith('--inspect'));
  const needsTsx = fromSources && !inherited.some((a) => a.includes('tsx'));
  return {
    modulePath,
    execArgv: needsTsx ? [...inherited, '--import', import.meta.resolve('tsx')] : inherited,
  };
}

/** Last `limit` characters of a stream, for the message of a crashed worker. */
class Tail {
  private text = '';
  constructor(private readonly limit = 4000) {}
  push(chunk: Buffer | string): void {
    this.text = (this.text + chunk.toString()).slice(-this.limit);
  }
  lines(n: number): string {
    return this.text.trimEnd().split('\n').slice(-n).join('\n');
  }
}

export interface WorkerOptions {
  /** The sweep of every run `execute` is given (a queue worker passes whole jobs to `executeJob`). */
  sweepDir?: string;
  /** Backend choice passed to the worker (`--backend`), the one the sweep resolved. */
  backend: string;
  /** Data-parallel threads of each run, sent with every job. */
  threads?: ThreadChoice;
  /** Progress events of the worker's current run. */
  onEvent: (e: ForwardedEvent) => void;
  /** Data warnings of a run (skipped files...). */
  onWarning?: (runId: string, text: string) => void;
  /** More arguments of the `__worker` command (e.g. `--stop-on-signal`). */
  args?: string[];
}

/** One worker process, started on first use and restarted after a crash. */
export class WorkerExecutor implements Executor {
  private child: ChildProcess | undefined;
  private ready: Promise<void> | undefined;
  private readonly tail = new Tail();
  private current:
    { runId: string; resolve: (o: RunOutcome) => void; reject: (e: Error) => void } | undefined;

  constructor(private readonly opts: WorkerOptions) {}

  private start(): Promise<void> {
    const { modulePath, execArgv } = cliLaunch();
    const args = [WORKER_COMMAND, '--backend', this.opts.backend, ...(this.opts.args ?? [])];
    const child = fork(modulePath, args, {
      execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child = child;
    child.stdout?.on('data', (d: Buffer) => this.tail.push(d));
    child.stderr?.on('data', (d: Buffer) => this.tail.push(d));
    this.ready = new Promise<void>((resolve, reject) => {
      child.on('message', (m: FromWorker) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'event') this.opts.onEvent(m.event);
        else if (m.type === 'warning') this.opts.onWarning?.(m.runId, m.text);
        else if (m.type === 'done' && this.current?.runId === m.runId) {
          const c = this.current;
          this.current = undefined;
          c.resolve(m.outcome);
        } else if (m.type === 'fatal') {
          const err = new Error(`worker process failed: ${m.error}`);
          reject(err);
          this.current?.reject(err);
        }
      });
      child.on('exit', (code, signal) => {
        this.child = undefined;
        this.ready = undefined;
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        const out = this.tail.lines(8);
        const err = new Error(`worker process ${how}${out ? `; its last output:\n${out}` : ''}`);
        reject(err);
        const c = this.current;
        this.current = undefined;
        c?.reject(err);
      });
      child.on('error', (e) => reject(e));
    });
    return this.ready;
  }

  execute(run: RunSpec): Promise<RunOutcome> {
    if (this.opts.sweepDir === undefined) throw new Error('WorkerExecutor.execute: no sweepDir');
    return this.executeJob({ sweepDir: this.opts.sweepDir, run });
  }

  /** Carry out `job` (its threads default to the executor's). */
  async executeJob(job: RunJob): Promise<RunOutcome> {
    if (!this.child || !this.ready) await this.start();
    else await this.ready;
    const child = this.child!;
    const sent: RunJob = { ...job, threads: job.threads ?? this.opts.threads };
    return new Promise<RunOutcome>((resolve, reject) => {
      this.current = { runId: job.run.id, resolve, reject };
      child.send({ type: 'run', job: sent } satisfies ToWorker);
    });
  }

  /** Ask the worker to end its run at the next checkpoint, unfinished (its outcome says `stoppedAt`). */
  stop(): void {
    if (this.child?.connected) this.child.send({ type: 'stop' } satisfies ToWorker);
  }

  /** Ask the worker to exit and wait for it (kills it after `graceMs`). */
  async close(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      if (child.connected) child.send({ type: 'exit' } satisfies ToWorker);
      else child.kill('SIGTERM');
    });
  }
}

/**
 * The child's side: take jobs until told to exit. `execute` must never throw for a run's own
 * failure. `stop` turns true once the parent says `stop` (or, with `stopOnSignal`, on SIGTERM or
 * SIGINT: a queue worker's children outlive a signal sent to the whole process group until their
 * run reaches a checkpoint, and the parent decides what happens to the job).
 */
export function serveWorker(
  execute: (
    job: RunJob,
    emit: (e: ForwardedEvent) => void,
    warn: (text: string) => void,
    stop: () => boolean,
  ) => Promise<RunOutcome>,
  opts: { stopOnSignal?: boolean } = {},
): Promise<void> {
  const send = (m: FromWorker) => process.send?.(m);
  if (!process.send)
    throw new Error(`'fprl ${WORKER_COMMAND}' is internal: it runs only as a worker of 'fprl run'`);
  let stopping = false;
  const stop = () => stopping;
  if (opts.stopOnSignal) {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => (stopping = true));
  }
  return new Promise<void>((resolve) => {
    let queue = Promise.resolve();
    const onMessage = (m: ToWorker) => {
      if (m.type === 'stop') {
        stopping = true;
        return;
      }
      if (m.type === 'exit') {
        queue = queue.then(() => {
          process.off('message', onMessage);
          process.off('disconnect', orphaned);
          process.disconnect?.();
          resolve();
        });
        return;
      }
      queue = queue.then(async () => {
        try {
          const outcome = await execute(
            m.job,
            (event) => send({ type: 'event', event }),
            (text) => send({ type: 'warning', runId: m.job.run.id, text }),
            stop,
          );
          send({ type: 'done', runId: m.job.run.id, outcome });
        } catch (e) {
          send({ type: 'fatal', error: (e as Error)?.stack ?? String(e) });
          process.exitCode = 1;
        }
      });
    };
    // The sweep died (killed, Ctrl-C): stop at once; checkpoints are atomic and the run resumes.
    const orphaned = () => process.exit(1);
    process.on('message', onMessage);
    process.once('disconnect', orphaned);
    send({ type: 'ready', pid: process.pid });
  });
}

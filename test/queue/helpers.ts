/**
 * Helpers of the queue tests: a real redis-server of the test's own (a free local port, a temp
 * folder, persistence on request), `fprl worker` as a real process, and waiting for what the
 * processes write. No mock of Redis or BullMQ anywhere.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Queue, type Job } from 'bullmq';
import { QUEUE_NAME, parseQueueUrl } from '../../src/queue/connection.js';
import type { RunJobData } from '../../src/queue/jobs.js';
import type { RunResult } from '../../src/report/types.js';
import { spawnCli } from '../reliability/fixtures.js';
import { tinySweepConfig } from '../helpers/tiny-sweep.js';

/** Whether `redis-server` is on PATH (the queue tests skip, saying so, when it is not). */
export function haveRedis(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Skip the suite when redis-server is missing (`.ci/run` installs it). */
export function requireRedis(ctx: Mocha.Context): void {
  if (haveRedis()) return;
  console.log('    (skipped: redis-server is not on PATH; install it, e.g. apt-get install redis-server)');
  ctx.skip();
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface TestRedis {
  port: number;
  url: string;
  dir: string;
  /** Stop the server (SIGTERM; with persistence it writes its append-only file first). */
  stop(): Promise<void>;
  /** Start it again on the same port and folder. */
  start(): Promise<void>;
}

/** A redis-server on a free port in a temp folder; `persist` turns the append-only file on. */
export async function startRedis(opts: { persist?: boolean } = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fprl-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    ...(opts.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    '--maxmemory-policy',
    'noeviction',
  ];
  let child: ChildProcess | undefined;
  const start = async () => {
    const c = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) resolve();
      };
      c.stdout?.on('data', onData);
      c.on('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${out}`)));
      setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10_000);
    });
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  };
  await start();
  return { port, url: `redis://127.0.0.1:${port}`, dir, stop, start };
}

export interface TestWorker {
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `fprl worker --queue url ...` as a real process, started and ready. */
export async function startWorker(
  url: string,
  args: string[] = [],
  user?: { uid: number; gid: number },
): Promise<TestWorker> {
  // Another user (root's tests run a worker as nobody) gets a HOME it may write (tsx's cache).
  const env = user ? { HOME: os.tmpdir() } : {};
  const child = spawnCli(['worker', '--queue', url, '--backend', 'cpu', ...args], env, user);
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const worker = { child, output: () => text, exited };
  await waitFor(
    () => text.includes('slot(s), queue'),
    `the worker to start; it printed:\n${text}`,
    60_000,
    exited,
  );
  return worker;
}

/** Stop a worker at once (SIGKILL) and wait for it. */
export async function killWorker(w: TestWorker | undefined): Promise<void> {
  if (!w || w.child.exitCode !== null || w.child.signalCode !== null) return;
  w.child.kill('SIGKILL');
  await w.exited;
}

/** Poll `check` every 50 ms until it is true; fails after `timeoutMs` or when `exited` resolves first. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
  exited?: Promise<unknown>,
): Promise<void> {
  let gone = false;
  void exited?.then(() => (gone = true));
  const t0 = Date.now();
  for (;;) {
    if (await check()) return;
    if (gone) throw new Error(`the process exited while waiting for ${what}`);
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The queue's job `id` (undefined when there is none), with its state. */
export async function jobOf(
  url: string,
  id: string,
): Promise<{ job: Job<RunJobData>; state: string } | undefined> {
  const queue = new Queue<RunJobData>(QUEUE_NAME, { connection: parseQueueUrl(url).connection });
  try {
    const job = await queue.getJob(id);
    return job ? { job, state: await job.getState() } : undefined;
  } finally {
    await queue.close();
  }
}

/** Put a job on the queue by hand (payloads the submitter would never make). */
export async function addJob(url: string, id: string, data: unknown, attempts = 1): Promise<void> {
  const queue = new Queue(QUEUE_NAME, { connection: parseQueueUrl(url).connection });
  try {
    await queue.add('run', data, { jobId: id, attempts });
  } finally {
    await queue.close();
  }
}

/** The sweep tests' tiny sweep (test/helpers/tiny-sweep.ts), with one picture per run. */
export function tinySweep(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return tinySweepConfig({ evaluation: { pictures: 1, batchSize: 8 }, ...extra });
}

/** The numbers of a run: its final metrics (per class too) and its evaluation curve; not its timings. */
export const numbers = (r: RunResult) => ({
  status: r.status,
  final: r.final,
  curve: r.curve.map((p) => ({
    ...p,
    metrics: Object.fromEntries(Object.entries(p.metrics).filter(([k]) => k !== 'seconds')),
  })),
});

/**
 * Helpers of the reliability suite: tiny experiments, the CLI run in-process (output captured)
 * or as a real process, folder snapshots ("nothing already written is damaged") and the shape
 * of a clean CLI failure (one message naming where and what to do, no stack trace).
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli.js';

/** The repository root (the CLI's working directory in the spawned processes). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(ROOT, 'src', 'cli.ts');

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `fprl-rel-${prefix}-`));
}

/** A one-block ViT on 16 px faces: a run takes a fraction of a second on cpu. */
export const TINY_MODEL = {
  preset: 'tiny-64',
  patchSize: 4,
  dim: 16,
  depth: 1,
  heads: 2,
  mlpDim: 32,
  dropout: 0,
};

/** A valid experiment (one supervised agent, one seed, 2 steps on synthetic faces); `over` replaces top-level keys. */
export function tinyExperiment(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'tiny',
    dataset: { kind: 'synthetic', size: 16, train: 8, val: 4, test: 4, seed: 0 },
    model: TINY_MODEL,
    training: { steps: 2, batchSize: 2, evalBatchSize: 4 },
    agents: [{ name: 'ce', kind: 'supervised' }],
    seeds: [0],
    evaluation: { pictures: 0, batchSize: 4 },
    ...over,
  };
}

/** Write `value` as JSON to `dir/name` and return the path. */
export function writeJson(dir: string, name: string, value: unknown): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value, null, 2));
  return file;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `fprl ...args` in this process through `main(argv)`, with stdout and stderr captured
 * (console output of libraries included, since console writes through the same streams).
 */
export async function runCli(args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  const capture =
    (append: (s: string) => void) =>
    (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      append(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    };
  process.stdout.write = capture((s) => (stdout += s)) as typeof process.stdout.write;
  process.stderr.write = capture((s) => (stderr += s)) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'fprl', ...args]);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

/** Start `fprl ...args` as a real process (sources under tsx, as `npm run fprl` does). */
export function spawnCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  user?: { uid: number; gid: number },
): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...user,
  });
}

/**
 * Resolve once the process `pid` is stopped (after a SIGSTOP: kill() returns before the signal
 * has taken effect, and on a busy machine the process may still write for a while). Linux reads
 * the state from /proc; elsewhere a short pause stands in for it.
 */
export async function waitStopped(pid: number, timeoutMs = 10_000): Promise<void> {
  const stat = `/proc/${pid}/stat`;
  if (!fs.existsSync(stat)) {
    await new Promise((r) => setTimeout(r, 500));
    return;
  }
  const t0 = Date.now();
  for (;;) {
    // The state is the first field after the parenthesised command name.
    const text = fs.readFileSync(stat, 'utf8');
    const state = text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3);
    if (state === 'T' || state === 't') return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`process ${pid} did not stop (state ${state})`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Collect a spawned process's output and exit status (`signal` when it was killed). */
export function finished(child: ChildProcess): Promise<CliResult & { signal: NodeJS.Signals | null }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? -1, signal, stdout, stderr }));
  });
}

/** `fprl ...args` as a real process, to completion. */
export function runCliProcess(args: string[], env?: NodeJS.ProcessEnv) {
  return finished(spawnCli(args, env));
}

/** Resolve once `file` exists (polled; the caller's test timeout bounds the wait), or reject if `child` exits first. */
export function waitForFile(file: string, child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => {
      clearInterval(timer);
      reject(new Error(`the process exited (${code}) before ${file} appeared`));
    };
    const timer = setInterval(() => {
      if (fs.existsSync(file)) {
        clearInterval(timer);
        child.off('exit', onExit);
        resolve();
      }
    }, 10);
    child.once('exit', onExit);
  });
}

/** Every file under `dir` (relative path -> sha256 of its bytes); folders map to 'dir'. */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!fs.existsSync(dir)) return out;
  for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, rel);
    const st = fs.lstatSync(p);
    out.set(rel, st.isDirectory() ? 'dir' : createHash('sha256').update(fs.readFileSync(p)).digest('hex'));
  }
  return out;
}

/** sha256 of one file. */
export function checksum(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Every file (not folder) under `dir`, relative paths. */
export function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((rel) =>
    fs.statSync(path.join(dir, rel)).isFile(),
  );
}

export interface CleanFailure {
  /** Must appear in the `error:` line: the file, folder, JSON path or flag at fault. */
  where: string;
  /** What went wrong (string or pattern), anywhere in the message. */
  message: string | RegExp;
  /** What to do (string or pattern), in the `hint:` line. */
  hint?: string | RegExp;
}

/**
 * A failed command the way the CLI promises: non-zero exit, stderr is ONE message (it starts
 * with `error: ` and holds no other `error:` line), names `where`, says what to do in a
 * `hint:`, and shows no stack trace.
 */
export function expectCleanFailure(r: CliResult, want: CleanFailure): void {
  const context = `stderr was:\n${r.stderr}`;
  expect(r.code, context).to.not.equal(0);
  // The backend line, and the banner tfjs itself prints once per process on its cpu backend.
  const text = r.stderr
    .replace(/^backend: .*\n( {2}note: .*\n)*/, '')
    .replace(/^\n=+\nHi, looks like you are running TensorFlow\.js in Node\.js\..*\n=+\n/, '');
  expect(text, context).to.match(/^error: /);
  expect(text.match(/^error: /gm), context).to.have.length(1);
  const head = text.split('\n  hint: ')[0];
  expect(head.split('\n')[0], context).to.contain(want.where);
  if (typeof want.message === 'string') expect(head, context).to.contain(want.message);
  else expect(head, context).to.match(want.message);
  const hint = /\n {2}hint: (.+)/.exec(text)?.[1];
  expect(hint, `no hint: ${context}`).to.be.a('string');
  if (want.hint !== undefined) {
    if (typeof want.hint === 'string') expect(hint, context).to.contain(want.hint);
    else expect(hint, context).to.match(want.hint);
  }
  expectNoStack(r.stderr);
}

/** No `    at fn (file:line:col)` frames. */
export function expectNoStack(text: string): void {
  expect(text, 'a stack trace was printed').to.not.match(/^\s+at .+(:\d+:\d+\)?|<anonymous>)$/m);
}

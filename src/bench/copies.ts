/**
 * `fprl bench --copies N`: N separate one-thread copies of the same model benchmark, started
 * together, each in its own process. Nothing is shared between them (no weights, no messages, no
 * synchronisation), so their summed images/s is the most N threads can give this model on this
 * machine when they split the batch; what is left between it and N times one thread alone is the
 * machine's own (shared caches, memory bandwidth, the hypervisor). The data-parallel pool's figure
 * next to it says how much of that ceiling the pool reaches.
 *
 * Child processes rather than worker threads: a worker thread of this process would share its
 * heap and GC with the measurement it is compared against.
 */
import { execFile, type ExecFileException } from 'node:child_process';
import { FprlError } from '../core/errors.js';

/** One copy's figures (from its `--json` line). */
export interface CopyResult {
  trainImagesPerSecond: number;
  inferImagesPerSecond: number;
  trainMsPerStep: number;
}

export interface CopiesResult {
  copies: number;
  each: CopyResult[];
  /** Sums over the copies (images/s). */
  train: number;
  infer: number;
}

export interface CopiesOptions {
  copies: number;
  preset: string;
  batch: number;
  steps: number;
  warmup?: number;
  seed?: number;
  backend?: string;
  stockKernels?: boolean;
  /** The command line that runs `fprl` (default: this process's node, flags and script). */
  command?: { file: string; args: string[] };
  /** Kill the copies after this long. Default 20 minutes. */
  timeoutMs?: number;
}

/** The arguments of one copy: the same measurement, one thread, JSON out. */
export function copyArgs(o: CopiesOptions): string[] {
  const args = ['bench', '--preset', o.preset, '--batch', String(o.batch), '--steps', String(o.steps)];
  args.push('--threads', '1', '--json');
  if (o.warmup !== undefined) args.push('--warmup', String(o.warmup));
  if (o.seed !== undefined) args.push('--seed', String(o.seed));
  if (o.backend !== undefined) args.push('--backend', o.backend);
  if (o.stockKernels) args.push('--stock-kernels');
  return args;
}

/** Parse a copy's stdout (the `--json` object); throws naming the copy when it is not one. */
export function parseCopy(stdout: string, index: number): CopyResult {
  const where = `bench --copies (copy ${index + 1})`;
  let j: Partial<CopyResult>;
  try {
    j = JSON.parse(stdout.trim()) as Partial<CopyResult>;
  } catch {
    throw new FprlError(
      `copy ${index + 1} printed no JSON result: ${stdout.trim().slice(0, 200) || '(nothing)'}`,
      {
        where,
      },
    );
  }
  const num = (k: keyof CopyResult) => {
    const v = j[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
      throw new FprlError(`copy ${index + 1} reported ${String(k)} = ${String(v)}`, { where });
    return v;
  };
  return {
    trainImagesPerSecond: num('trainImagesPerSecond'),
    inferImagesPerSecond: num('inferImagesPerSecond'),
    trainMsPerStep: num('trainMsPerStep'),
  };
}

/**
 * The number of copies `--copies` asks for (`raw` as typed, or as a number from the API): an
 * integer of at least 2, else an FprlError naming the flag.
 */
export function copiesCount(raw: string | number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 2) {
    throw new FprlError(
      `--copies must be an integer of at least 2, got ${typeof raw === 'string' ? `'${raw}'` : raw}`,
      { where: '--copies', hint: 'one copy is the one-thread figure the benchmark prints anyway' },
    );
  }
  return n;
}

/** Start every copy at once and wait for all of them. */
export async function runCopies(o: CopiesOptions): Promise<CopiesResult> {
  copiesCount(o.copies);
  const cmd = o.command ?? { file: process.execPath, args: [...process.execArgv, process.argv[1]] };
  const args = [...cmd.args, ...copyArgs(o)];
  const options = {
    timeout: o.timeoutMs ?? 20 * 60_000,
    killSignal: 'SIGKILL' as const,
    maxBuffer: 16 << 20,
  };
  const copy = (i: number) =>
    new Promise<string>((resolve, reject) =>
      execFile(cmd.file, args, options, (e: ExecFileException | null, stdout: string, stderr: string) => {
        if (!e) return resolve(stdout);
        // A string code is a failure to start (ENOENT, EACCES); a number is the exit status.
        const why =
          typeof e.code === 'string'
            ? `did not start: ${e.message}`
            : e.signal
              ? `was killed (${e.signal})`
              : `exited with ${e.code}`;
        const tail = stderr.trim().split('\n').slice(-3).join(' | ');
        reject(new FprlError(`copy ${i + 1} ${why}: ${tail}`, { where: 'bench --copies' }));
      }),
    );
  const outs = await Promise.all(Array.from({ length: o.copies }, (_, i) => copy(i)));
  const each = outs.map((s, i) => parseCopy(s, i));
  const sum = (k: keyof CopyResult) => Math.round(each.reduce((a, c) => a + c[k], 0) * 100) / 100;
  return { copies: o.copies, each, train: sum('trainImagesPerSecond'), infer: sum('inferImagesPerSecond') };
}

/**
 * The lines `fprl bench` prints: the copies, their sum against one thread alone (the ceiling)
 * and, when the pool was timed, the pool against that ceiling.
 */
export function formatCopies(
  c: CopiesResult,
  alone: { train: number; infer: number },
  pool?: { threads: number; train: number; infer: number },
): string {
  const f = (x: number) => x.toFixed(2);
  const lines = [
    `${c.copies} one-thread copies side by side (separate processes, nothing shared): train ${c.each.map((e) => f(e.trainImagesPerSecond)).join(' + ')} = ${f(c.train)} img/s (${f(c.train / alone.train)}x one thread alone), infer ${f(c.infer)} img/s (${f(c.infer / alone.infer)}x)`,
  ];
  if (pool)
    lines.push(
      `${pool.threads} threads data-parallel: train ${f(pool.train)} img/s = ${Math.round((100 * pool.train) / c.train)}% of the copies' sum, infer ${Math.round((100 * pool.infer) / c.infer)}%`,
    );
  return lines.join('\n');
}

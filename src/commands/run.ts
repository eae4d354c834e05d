/**
 * `fprl run EXPERIMENT.json`: a sweep of every agent x seed, then summary.json and the report
 * (see src/experiment/runner.ts). Also the internal `__worker` command that `--workers N`
 * starts N of.
 */
import type { Command } from 'commander';
import { initBackend } from '../backend/backend.js';
import os from 'node:os';
import { FprlError } from '../core/errors.js';
import { MIN_STEPS } from '../optim/config.js';
import { checkSeedCount } from '../experiment/load.js';
import { MAX_SEEDS } from '../experiment/schema.js';
import { defaultThreads, describeFreeCores, sampleFreeCores } from '../parallel/index.js';
import type { ThreadChoice } from '../train/parallel.js';
import { executeRun } from '../experiment/run-one.js';
import { runSweep, type SweepOptions, type SweepOutcome } from '../experiment/runner.js';
import { WORKER_COMMAND } from '../experiment/protocol.js';
import { serveWorker } from '../experiment/worker-pool.js';
import { parseQueueUrl, probeQueue } from '../queue/connection.js';
import { queueRuns } from '../queue/submit.js';

/** `--seeds 0,1,2` -> [0, 1, 2] (also ranges: `0-4`); at most MAX_SEEDS, counted before expanding. */
export function parseSeeds(text: string): number[] {
  const seeds: number[] = [];
  for (const part of text.split(',').map((s) => s.trim())) {
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (range && Number(range[1]) <= Number(range[2])) {
      const [lo, hi] = [Number(range[1]), Number(range[2])];
      if (seeds.length + (hi - lo + 1) > MAX_SEEDS) {
        throw new FprlError(
          `'${text}' expands to ${seeds.length + (hi - lo + 1)} seeds, more than ${MAX_SEEDS} (one run per agent and seed)`,
          { where: '--seeds', hint: 'give a shorter range, e.g. --seeds 0-4' },
        );
      }
      for (let s = lo; s <= hi; s++) seeds.push(s);
    } else if (/^\d+$/.test(part)) seeds.push(Number(part));
    else {
      throw new FprlError(`'${text}' is not a list of seeds`, {
        where: '--seeds',
        hint: 'give non-negative integers separated by commas, e.g. --seeds 0,1,2 or --seeds 0-4',
      });
    }
  }
  return [...checkSeedCount([...new Set(seeds)])];
}

export function parsePositiveInt(flag: string, min = 1): (text: string) => number {
  return (text: string) => {
    const n = Number(text);
    if (!/^\d+$/.test(text.trim()) || n < min) {
      throw new FprlError(`'${text}' is not an integer >= ${min}`, {
        where: flag,
        hint: `e.g. ${flag} ${Math.max(min, 2)}`,
      });
    }
    return n;
  };
}

export interface RunFlags {
  out?: string;
  resume?: string;
  seeds?: number[];
  workers?: number | 'auto';
  /** Data-parallel threads per run (src/parallel/); default cores / concurrent runs. */
  threads?: number;
  backend?: string;
  steps?: number;
  retryFailed?: boolean;
  /** Write into a non-empty --out that is not a sweep folder. */
  force?: boolean;
  quiet?: boolean;
  progress?: 'auto' | 'bars' | 'lines';
  /** Put the runs on this work queue (redis://HOST:PORT[/DB]) for `fprl worker`s to train. */
  queue?: string;
}

/** With --queue the workers choose processes, threads and backend: these flags would do nothing. */
const NOT_WITH_QUEUE: [keyof RunFlags, string, string][] = [
  ['workers', '--workers', 'fprl worker --slots N on each machine'],
  ['threads', '--threads', 'fprl worker --threads N'],
  ['backend', '--backend', 'fprl worker --backend NAME'],
];

/** The command's logic, callable in-process (tests). Lines go to `print`, progress to stderr. */
export async function runCommand(
  experiment: string | undefined,
  flags: RunFlags,
  print: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  extra: Partial<SweepOptions> = {},
): Promise<SweepOutcome> {
  if (flags.queue !== undefined) {
    for (const [key, flag, instead] of NOT_WITH_QUEUE) {
      if (flags[key] !== undefined) {
        throw new FprlError(`${flag} does not go with --queue: the workers choose it`, {
          where: flag,
          hint: `leave ${flag} out and start the workers with ${instead}`,
        });
      }
    }
    // An unreachable queue is refused in seconds, before any folder is made.
    const address = parseQueueUrl(flags.queue);
    const warn = (l: string) => print(`warning: ${l}`);
    await probeQueue(address, { warn });
    extra = { ...extra, threads: undefined, remote: queueRuns(address, { warn }) };
  }
  return runSweep({
    experiment,
    resume: flags.resume,
    out: flags.out,
    seeds: flags.seeds,
    workers: flags.workers,
    backend: flags.backend,
    ...(flags.threads !== undefined ? { threads: { forced: flags.threads, fallback: 1 } } : {}),
    steps: flags.steps,
    retryFailed: flags.retryFailed,
    force: flags.force,
    progress: flags.quiet ? 'none' : (flags.progress ?? 'auto'),
    print,
    ...extra,
  });
}

/** `FPRL_THREADS`: the user's override of the threads per run, as --threads (read here only, once). */
export const THREADS_ENV_VAR = 'FPRL_THREADS';

/**
 * Threads per run, chosen once at the command line and passed down with every run (worker
 * processes get it in their jobs): --threads (or FPRL_THREADS) beats the config's
 * training.threads; otherwise the default is a pool of the cores per concurrent run that
 * starts with the free cores (`free`, measured by sampleFreeCores: other jobs on a shared
 * machine count) computing and adapts that count to the measured step time (threads x
 * processes never oversubscribes the cores; the result does not depend on the count).
 */
export function runThreads(
  flags: RunFlags,
  env: NodeJS.ProcessEnv = process.env,
  free: number = os.availableParallelism(),
): ThreadChoice {
  const cores = os.availableParallelism();
  const processes = flags.workers === 'auto' ? cores : (flags.workers ?? 1);
  const fallback = defaultThreads(processes, cores, free);
  // The default adapts: the cores per run are the pool's shards, the free ones compute at first.
  const adaptUpTo = Math.max(1, Math.floor(cores / processes));
  if (flags.threads !== undefined) return { forced: flags.threads, fallback, adaptUpTo };
  const raw = env[THREADS_ENV_VAR];
  if (raw === undefined || raw === '') return { fallback, adaptUpTo };
  return { forced: parsePositiveInt(THREADS_ENV_VAR)(raw), fallback, adaptUpTo };
}

export function register(program: Command): void {
  program
    .command('run')
    .description(
      'run an experiment: every agent x seed (resumable), then summary.json, report.md and report.html',
    )
    .argument('[experiment]', 'experiment JSON file (e.g. experiments/quickstart.json)')
    .option('--out <dir>', 'output folder (default runs/<name>-<time>); an existing sweep there is resumed')
    .option('--resume <dir>', 'continue the sweep in this folder with its stored config.json')
    .option('--seeds <list>', "seeds to run, e.g. 0,1,2 or 0-4 (default: the config's)", parseSeeds)
    .option(
      '--workers <n>',
      "parallel worker processes, or 'auto' for one per core (default 1: in-process)",
      (text: string): number | 'auto' =>
        text.trim() === 'auto' ? 'auto' : parsePositiveInt('--workers')(text),
    )
    .option(
      '--threads <n>',
      'data-parallel threads per run (default: cores / worker processes; beats training.threads)',
      parsePositiveInt('--threads'),
    )
    .option('--backend <name>', 'compute backend: auto, tensorflow-gpu, tensorflow, wasm, cpu')
    .option(
      '--steps <n>',
      'train every agent this many steps (quick tries)',
      parsePositiveInt('--steps', MIN_STEPS),
    )
    .option('--retry-failed', 'run again the runs that failed in an earlier session')
    .option('--force', 'write into a non-empty --out that is not a sweep folder')
    .option('--progress <mode>', 'progress display: auto, bars or lines')
    .option('--quiet', 'no progress display (the table and the report path are still printed)')
    .option(
      '--queue <url>',
      'put the runs on this work queue (redis://HOST:PORT[/DB]) for fprl worker on any machine; --out must be a shared folder (docs/QUEUE.md)',
    )
    .action(async (experiment: string | undefined, flags: RunFlags) => {
      if (flags.progress && !['auto', 'bars', 'lines'].includes(flags.progress)) {
        throw new FprlError(`unknown progress mode '${flags.progress}'`, {
          where: '--progress',
          hint: 'auto, bars or lines',
        });
      }
      // Only the CLI chooses the thread defaults (in-process callers keep 1 thread unless they pass one).
      // With --queue the workers choose their threads. Otherwise the default counts the cores
      // free now (a shared machine), measured only when it is needed.
      const local = flags.queue === undefined;
      const needsDefault = local && flags.threads === undefined && !process.env[THREADS_ENV_VAR];
      const sample = needsDefault ? await sampleFreeCores() : undefined;
      const threads = local ? runThreads(flags, process.env, sample?.free) : undefined;
      if (sample && threads && !flags.quiet)
        process.stderr.write(
          `default threads per run (runs without training.threads, from 8x128x128 pixels per step): ` +
            `${describeFreeCores(sample, threads.fallback)}\n`,
        );
      const outcome = await runCommand(experiment, flags, undefined, threads ? { threads } : {});
      const failed = outcome.summary.failed.length;
      if (failed > 0) {
        // The sweep carried on and wrote its summary; the exit status still says it is incomplete.
        throw new FprlError(`${failed} of ${outcome.results.length} runs failed (listed above)`, {
          where: outcome.dir,
          hint:
            "each error is also in its run's result.json; fix the cause, then " +
            `fprl run --resume ${outcome.dir} --retry-failed (finished runs are kept; a failed run ` +
            'resumes from its last good checkpoint)',
        });
      }
    });

  program
    .command(WORKER_COMMAND, { hidden: true })
    .description('internal: a worker process of `fprl run --workers N`')
    .option('--backend <name>', 'compute backend')
    .option('--stop-on-signal', 'SIGTERM/SIGINT end the run at its next checkpoint (fprl worker)')
    .action(async (flags: { backend?: string; stopOnSignal?: boolean }) => {
      await initBackend(flags.backend);
      await serveWorker((job, emit, warn, stop) => executeRun(job, { emit, warn, stop }), {
        stopOnSignal: flags.stopOnSignal,
      });
    });
}

/**
 * `fprl run`: a sweep of every agent x seed of an experiment, in one output folder.
 *
 * 1. Load and validate the experiment (or, resuming, the folder's config.json).
 * 2. Take the folder's lock; write config.json (resolved) and environment.json.
 * 3. Plan the runs (sources before their fine-tunes) and skip those with a result.json.
 * 4. Run the rest in-process or on worker processes; a failed run is recorded, not fatal.
 * 5. Summarise every run with a result (summary.json), write the report, return the table.
 */
import { isDeepStrictEqual } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { EventBus } from '../core/bus.js';
import { backendInfo, describeBackend, initBackend, type BackendInfo } from '../backend/backend.js';
import { FprlError } from '../core/errors.js';
import { buildSummary, type Summary } from '../report/summary.js';
import { formatSummaryTable } from '../report/format.js';
import type { RunResult } from '../report/types.js';
import { writeReport } from '../report/write.js';
import { ProgressSink } from '../sinks/index.js';
import { writeJsonAtomic } from '../core/atomic.js';
import { guardOutput, markOutput } from '../core/output-guard.js';
import { describeEnvironment, type EnvironmentRecord } from './environment.js';
import { defaultSweepDir, runDir, runPaths, SWEEP_FILES, sweepPaths } from './layout.js';
import { loadExperiment, resolveExperiment, type ResolvedExperiment } from './load.js';
import { openSplit, releaseSplits, type SplitName } from './datasets.js';
import { degenerateProblems, tallyDataset } from '../data/index.js';
import { acquireSweepLock, LOCK_FILE } from './lock.js';
import { planSweep, type RunSpec } from './plan.js';
import type { ForwardedEvent } from './protocol.js';
import { collectResults, readJsonFile, readRunResult } from './results.js';
import { executeRun } from './run-one.js';
import type { ThreadChoice } from '../train/parallel.js';
import { schedule, type Executor, type RunOutcome } from './scheduler.js';
import { WorkerExecutor } from './worker-pool.js';

export interface SweepOptions {
  /** The experiment file (omit with `resume`). */
  experiment?: string;
  /** Continue the sweep in this folder, with its stored config.json. */
  resume?: string;
  /** Output folder (default runs/<name>-<time>); an existing sweep folder is resumed. */
  out?: string;
  /** Run these seeds (default: the config's). */
  seeds?: number[];
  /**
   * Worker processes (default 1: in-process). `auto`: one per core for the single-threaded
   * backends (wasm, cpu), in-process for a backend that uses every core itself.
   */
  workers?: number | 'auto';
  /** Backend choice (default: FPRL_BACKEND or auto). */
  backend?: string;
  /** Data-parallel threads of each run (default: one, unless the config's training.threads says). */
  threads?: ThreadChoice;
  /** Train every agent this many steps (quick tries). */
  steps?: number;
  /** Run again the runs that failed in an earlier session (default: keep their result). */
  retryFailed?: boolean;
  /** Write into a non-empty `out` that is not a sweep folder (default: refused). */
  force?: boolean;
  /** Progress display on stderr: `none` for quiet. Default auto (bars on a TTY, lines in logs). */
  progress?: 'auto' | 'bars' | 'lines' | 'none';
  /** Lines for the user (backend, folder, table, report path). Default: nothing. */
  print?: (line: string) => void;
  /** Variables for `${NAME}` in the config (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Progress stream (default process.stderr). */
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Carry the runs out elsewhere instead of on this machine (`fprl run --queue`, src/queue/). */
  remote?: RemoteRuns;
}

/** What remote executors get to work with (the sweep is prepared and its folder written). */
export interface RemoteContext {
  dir: string;
  config: ResolvedExperiment['config'];
  /** The runs still to do, in plan order. */
  runs: readonly RunSpec[];
  /** Progress events of any run, for the sweep's one progress display. */
  emit: (e: ForwardedEvent) => void;
  warn: (runId: string, text: string) => void;
}

/**
 * Runs carried out outside this process tree (the work queue of src/queue/). The scheduler here
 * still orders them: a run is handed over once its initFrom source finished, and a run whose
 * source failed is recorded failed without being handed over.
 */
export interface RemoteRuns {
  /** Where the runs go, for the sweep line and environment.json, e.g. `queue redis://host:6379`. */
  label: string;
  /** One executor per run that may be handed over at once; `close` lets go of connections. */
  open(ctx: RemoteContext): Promise<{ executors: Executor[]; close(): Promise<void> }>;
}

export interface SweepOutcome {
  dir: string;
  config: ResolvedExperiment['config'];
  summary: Summary;
  results: RunResult[];
  /** Runs carried out in this session, and runs already finished before it. */
  ran: string[];
  kept: string[];
  /** The comparison table as printed. */
  table: string;
  reportMd: string;
  reportHtml: string;
}

/** The `--backend` value that makes a worker pick the same backend as this process. */
export function backendChoiceOf(info: BackendInfo): string {
  if (info.provider.includes('tfjs-node-gpu')) return 'tensorflow-gpu';
  if (info.backend === 'tensorflow') return 'tensorflow';
  return info.backend;
}

/** The number of worker processes for `--workers` (see {@link SweepOptions.workers}). */
export function resolveWorkers(workers: number | 'auto' | undefined, backend: BackendInfo): number {
  if (workers === 'auto') return backend.threads > 1 ? 1 : Math.max(1, os.availableParallelism());
  return Math.max(1, Math.floor(workers ?? 1));
}

/** First JSON path where `a` and `b` differ (undefined when equal). */
export function firstDifference(a: unknown, b: unknown, at = ''): string | undefined {
  if (isDeepStrictEqual(a, b)) return undefined;
  if (a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const d = firstDifference(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        `${at}/${k}`,
      );
      if (d !== undefined) return d;
    }
  }
  return at || '/';
}

/** The config to run and the folder to run it in, from a file, a folder, or both. */
async function prepare(
  opts: SweepOptions,
): Promise<{ exp: ResolvedExperiment; dir: string; seeds: number[] }> {
  const dir = opts.resume ?? opts.out;
  const storedFile = dir ? sweepPaths(dir).config : undefined;
  const stored =
    storedFile && existsSync(storedFile)
      ? await readJsonFile<Record<string, unknown>>(storedFile, true)
      : undefined;
  if (opts.resume && !stored) {
    throw new FprlError('no sweep to resume here (config.json is missing)', {
      where: opts.resume,
      hint: 'give the folder a sweep was started in (runs/<experiment>-<time>), or start one with fprl run EXPERIMENT.json',
    });
  }
  const common = { env: opts.env, steps: opts.steps, seeds: opts.seeds };
  const exp = opts.experiment
    ? await loadExperiment(opts.experiment, common)
    : await resolveExperiment(stored, { ...common, where: storedFile, baseDir: dir });
  const seeds = [...exp.config.seeds];
  if (stored) {
    // The folder accumulates seeds: a resumed sweep may add some; everything else must match.
    const storedSeeds = (stored.seeds as number[] | undefined) ?? [];
    const union = [...new Set([...storedSeeds, ...seeds])].sort((x, y) => x - y);
    const diff = firstDifference({ ...stored, seeds: [] }, { ...exp.config, seeds: [] });
    if (diff !== undefined) {
      throw new FprlError(`this folder holds a sweep of another config (they differ at ${diff})`, {
        where: dir,
        hint:
          'choose a new --out for the changed experiment, or resume this sweep unchanged with ' +
          `fprl run --resume ${dir} (--seeds may add seeds)`,
      });
    }
    exp.config.seeds = union;
  }
  return { exp, dir: dir ?? defaultSweepDir(exp.config.name), seeds };
}

const RUN_COMMAND = 'fprl run';

/** What a sweep reads: the experiment file, the data folder, modules and starting weights. */
function sweepInputs(experiment: string | undefined, config: ResolvedExperiment['config']): string[] {
  return [
    ...(experiment ? [experiment] : []),
    ...(config.dataset.kind !== 'synthetic' ? [config.dataset.root] : []),
    ...config.rewardModules,
    ...(config.agentModules ?? []),
    ...config.agents.flatMap((a) => (a.initWeights !== undefined ? [a.initWeights] : [])),
  ];
}

/** Run (or resume) a sweep; see the module comment. */
export async function runSweep(opts: SweepOptions): Promise<SweepOutcome> {
  if (!opts.experiment && !opts.resume) {
    throw new FprlError('nothing to run', {
      where: 'fprl run',
      hint: 'give an experiment file, or --resume DIR',
    });
  }
  const print = opts.print ?? (() => undefined);
  const { exp, dir, seeds } = await prepare(opts);
  const { config } = exp;
  const files = sweepPaths(dir);
  const state = await guardOutput(dir, {
    command: RUN_COMMAND,
    flag: opts.resume ? '--resume' : '--out',
    inputs: sweepInputs(opts.experiment, config),
    force: opts.force,
    // Sweep folders made before the marker; a bare lock is a sweep starting this moment.
    recognise: [[SWEEP_FILES.config, SWEEP_FILES.environment], [LOCK_FILE]],
  });
  // An unavailable --backend is refused before the folder is created or locked.
  const backend = backendInfo() && !opts.backend ? backendInfo()! : await initBackend(opts.backend);
  const lock = acquireSweepLock(dir);
  let progress: ProgressSink | undefined;
  const executors: Executor[] = [];
  let closeRemote: (() => Promise<void>) | undefined;
  try {
    print(describeBackend(backend));
    const workers = resolveWorkers(opts.workers, backend);

    const plan = planSweep(config.agents, seeds);
    const previous = new Map<string, RunOutcome>();
    for (const r of plan) {
      const res = await readRunResult(dir, r);
      if (res && (res.status === 'ok' || !opts.retryFailed))
        previous.set(r.id, { status: res.status, error: res.error });
    }
    const todo = plan.filter((r) => !previous.has(r.id));
    // More processes than runs that can start at once would only wait.
    const processes = opts.remote ? 0 : todo.length > 1 ? Math.min(workers, todo.length) : 1;
    // Every run reads the same data: a bad folder is one error for the sweep, found before
    // anything is written, not a failed result.json per run that --retry-failed must undo.
    if (todo.length) await checkSweepData(config, processes !== 1, (t) => print(`warning: ${t}`));

    // Marked once the data passed: a refused sweep leaves nothing but its (released) lock.
    // A folder taken with --force stays unmarked: the user's files there stay protected next time.
    if (state !== 'forced') await markOutput(dir, RUN_COMMAND);
    await writeJsonAtomic(files.config, config);
    await writeEnvironment(
      files.environment,
      describeEnvironment({
        backend,
        workers: opts.remote ? 0 : workers,
        seeds,
        ...(opts.remote ? { queue: opts.remote.label } : {}),
      }),
    );
    if (opts.retryFailed) await clearFailed(dir, plan, previous);
    print(
      `sweep ${config.name}: ${plan.length} runs (${config.agents.length} agents x ${seeds.length} seeds` +
        `${config.agents.some((a) => a.seeds) ? ', some agents with their own seeds' : ''})` +
        `${previous.size ? `, ${previous.size} already finished` : ''}, ` +
        `${opts.remote ? `on the ${opts.remote.label}` : processes > 1 ? `${processes} worker processes` : 'in-process'} -> ${dir}`,
    );

    const bus = new EventBus();
    if (opts.progress !== 'none') {
      progress = new ProgressSink({
        stream: opts.progressStream,
        mode: opts.progress ?? 'auto',
        totalRuns: todo.length,
      });
      progress.attach(bus);
    }
    const started = new Set<string>();
    const forward = (e: ForwardedEvent) => {
      if (e.type === 'run:start') started.add(e.runId);
      const { type, ...payload } = e;
      bus.emit(type, payload as never);
    };
    /** Record a run that ended without its own result.json as failed, so it is never silently dropped. */
    const recordFailed = async (r: RunSpec, error: string, wallSeconds: number): Promise<void> => {
      const result: RunResult = {
        agent: r.agent,
        seed: r.seed,
        status: 'failed',
        error,
        wallSeconds,
        curve: [],
      };
      await writeJsonAtomic(runPaths(runDir(dir, r.agent, r.seed)).result, result);
      if (!started.has(r.id))
        forward({ type: 'run:start', runId: r.id, agent: r.agent, seed: r.seed, totalSteps: 0 });
      forward({ type: 'run:end', runId: r.id, status: 'failed', error, wallSeconds });
    };
    const warn = (runId: string, text: string) =>
      progress ? progress.log(`${runId}: warning: ${text}`) : print(`${runId}: warning: ${text}`);
    if (opts.remote) {
      const remote = await opts.remote.open({ dir, config, runs: todo, emit: forward, warn });
      closeRemote = remote.close;
      executors.push(...remote.executors);
    } else if (processes > 1) {
      const choice = backendChoiceOf(backend);
      for (let i = 0; i < processes; i++) {
        executors.push(
          new WorkerExecutor({
            sweepDir: dir,
            backend: choice,
            threads: opts.threads,
            onEvent: forward,
            onWarning: warn,
          }),
        );
      }
    } else {
      executors.push({
        execute: (run: RunSpec) =>
          executeRun(
            { sweepDir: dir, run, threads: opts.threads },
            { emit: forward, warn: (t) => warn(run.id, t) },
            exp,
          ),
      });
    }
    // A run's own failures are in its result.json; an executor that throws is a worker process
    // that died (OOM killer, SIGKILL, a native abort) before writing it: record that here.
    const recorded: Executor[] = executors.map((x) => ({
      execute: async (run: RunSpec): Promise<RunOutcome> => {
        const t0 = performance.now();
        try {
          return await x.execute(run);
        } catch (e) {
          const written = await readRunResult(dir, run);
          if (written) return { status: written.status, error: written.error };
          const error =
            `${(e as Error)?.message ?? String(e)}\n` +
            'its last checkpoint is kept: --retry-failed resumes the run from it';
          await recordFailed(run, error, (performance.now() - t0) / 1000);
          return { status: 'failed', error };
        }
      },
    }));
    await schedule(plan, recorded, {
      previous: (r) => previous.get(r.id),
      onSkipped: (r, outcome) => recordFailed(r, outcome.error ?? 'not run', 0),
    });
    await Promise.all(executors.map((e) => (e as Partial<WorkerExecutor>).close?.()));
    await closeRemote?.();
    closeRemote = undefined;
    await progress?.close();
    progress = undefined;
    bus.close();

    // Every seed the folder holds results for (a resumed sweep may have added seeds).
    const results = await collectResults(dir, planSweep(config.agents, config.seeds));
    const summary = buildSummary(config.name, results, {
      mainMetrics: config.evaluation.metrics,
      agentOrder: config.agents.map((a) => a.name),
    });
    await writeReport(dir, summary, results);
    const table = formatSummaryTable(summary);
    print('');
    print(table);
    for (const f of summary.failed) print(`failed: ${f.agent}/seed-${f.seed}: ${f.error.split('\n')[0]}`);
    print(
      `report: ${files.reportHtml} (also ${path.basename(files.reportMd)}, ${path.basename(files.summary)})`,
    );
    return {
      dir,
      config,
      summary,
      results,
      ran: todo.map((r) => r.id),
      kept: [...previous.keys()],
      table,
      reportMd: files.reportMd,
      reportHtml: files.reportHtml,
    };
  } finally {
    await progress?.close();
    await Promise.all(executors.map((e) => (e as Partial<WorkerExecutor>).close?.()));
    await closeRemote?.().catch(() => undefined);
    lock.release();
  }
}

/**
 * Open (decode and check) the splits the runs use. In-process runs reuse them; worker processes
 * open their own (from the cache the check wrote, when the config names one), so this process
 * lets its copies go.
 */
async function checkSweepData(
  config: ResolvedExperiment['config'],
  workers: boolean,
  warn: (text: string) => void,
): Promise<void> {
  const splits = new Set<SplitName>(['train', 'val', config.evaluation.split]);
  for (const split of splits) {
    const dataset = await openSplit(config.dataset, split, warn);
    if (config.dataset.kind === 'synthetic') continue;
    // Degenerate splits (every mask one class: an error; classes absent: a warning).
    const where =
      config.dataset.kind === 'lapa' ? path.join(config.dataset.root, split) : config.dataset.root;
    const problems = degenerateProblems(split, await tallyDataset(dataset), where);
    for (const p of problems.filter((x) => x.severity === 'warning')) warn(`${p.file}: ${p.message}`);
    const error = problems.find((x) => x.severity === 'error');
    if (error) throw new FprlError(error.message, { where: error.file, hint: error.hint });
  }
  if (workers) releaseSplits();
}

/** environment.json of this session; earlier sessions of a resumed sweep are kept under `previous`. */
async function writeEnvironment(file: string, record: EnvironmentRecord): Promise<void> {
  const old = await readJsonFile<EnvironmentRecord & { previous?: EnvironmentRecord[] }>(file).catch(
    () => undefined,
  );
  const previous = old ? [...(old.previous ?? []), { ...old, previous: undefined }] : [];
  await writeJsonAtomic(file, previous.length ? { ...record, previous } : record);
}

/** Remove result.json of failed runs (and of runs started from them) so that they run again. */
async function clearFailed(
  dir: string,
  plan: readonly RunSpec[],
  previous: Map<string, RunOutcome>,
): Promise<void> {
  const { rm } = await import('node:fs/promises');
  for (const r of plan) {
    if (previous.has(r.id)) continue;
    const res = await readRunResult(dir, r);
    if (res && res.status === 'failed')
      await rm(runPaths(runDir(dir, r.agent, r.seed)).result, { force: true });
  }
}

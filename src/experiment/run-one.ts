/**
 * One run of a sweep (an agent x seed), the same in-process and in a worker: open the data,
 * build the env, the policy and the agent, attach the run's sinks (metrics.jsonl, TensorBoard),
 * train (resuming from the run's checkpoint, or starting from the source run's final
 * checkpoint for `initFrom`), evaluate on the evaluation split with the LaPa protocol, draw
 * the prediction grid, and write result.json last and atomically: a run is finished exactly
 * when that file exists. A failure (a NaN, a thrown error) is recorded in result.json as a
 * failed run; it never escapes to stop the sweep.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { EventBus } from '../core/bus.js';
import { isFprlError } from '../core/errors.js';
import { JsonlSink, TensorBoardSink, curvesFromLog, readMetricsLog } from '../sinks/index.js';
import { predictionGridSize, renderPredictionGrid } from '../report/pictures.js';
import type { RunResult } from '../report/types.js';
import { train } from '../train/trainer.js';
import {
  evaluate,
  evaluationMetrics,
  logitAdjustmentOf,
  scoreMetrics,
  type EvaluationResult,
} from '../train/evaluate.js';
import { hasCheckpoint, initFromCheckpoint, readCheckpointMeta, shiftClassBias } from '../train/checkpoint.js';
import { checkResume } from './resume-check.js';
import { initFromImported } from '../train/interop.js';
import { buildAgent, buildEnv, runStreams } from '../train/build.js';
import type { Agent } from '../core/types.js';
import { writeFileAtomic, writeJsonAtomic } from '../core/atomic.js';
import { augmentOf, envIdOf, openSplit } from './datasets.js';
import { runDir, runPaths } from './layout.js';
import {
  agentConfigOf,
  resolveExperiment,
  rewardSpecsOf,
  trainingOf,
  type ResolvedExperiment,
} from './load.js';
import { isForwarded, type ForwardedEvent, type RunJob } from './protocol.js';
import type { RunOutcome } from './scheduler.js';
import { readJsonFile } from './results.js';
import type { AgentEntry, ExperimentConfig } from './schema.js';
import { isFprlWeightsFolder } from './load.js';

/** Final metrics kept in result.json: split-level scores and per-image means (not spreads, sizes or timings). */
const RESULT_METRIC = /^(meanF1|meanDice|mIoU|pixelAccuracy|perImage\/[^/]+\/mean)$/;

/** What a checkpoint records about its run, so `fprl eval` / `predict` can rebuild the agent from it alone. */
export interface RunConfigRecord {
  experiment: ExperimentConfig;
  agent: string;
  seed: number;
}

export interface RunHooks {
  /** Progress events of the run (forwarded to the sweep's progress display). */
  emit?: (e: ForwardedEvent) => void;
  /** Data warnings (skipped files...), one line each. */
  warn?: (text: string) => void;
  /**
   * Asked after each periodic checkpoint: true stops the run there without a result.json (a queue
   * worker shutting down); the outcome has `stoppedAt` and the run resumes from that checkpoint.
   */
  stop?: () => boolean;
}

/** Carry out one run; resolves with its outcome once result.json is written. */
export async function executeRun(
  job: RunJob,
  hooks: RunHooks = {},
  exp?: ResolvedExperiment,
): Promise<RunOutcome> {
  const started = performance.now();
  const { run, sweepDir } = job;
  const paths = runPaths(runDir(sweepDir, run.agent, run.seed));
  const previous = await readJsonFile<RunResult>(paths.result);
  if (previous) return { status: previous.status, error: previous.error };

  const emit = hooks.emit ?? (() => undefined);
  let startedEmitted = false;
  const bus = new EventBus();
  // run:end is the runner's to send (after the test evaluation and result.json), not the trainer's.
  bus.all().subscribe((e) => {
    if (e.type === 'run:start') startedEmitted = true;
    if (isForwarded(e) && e.type !== 'run:end') emit(e);
  });

  let agent: Agent | undefined;
  let close: (() => void) | undefined;
  const sinks: { close(): Promise<void> }[] = [];
  let result: RunResult;
  let stoppedAt: number | undefined;
  try {
    await fs.mkdir(paths.dir, { recursive: true });
    const jsonl = new JsonlSink(paths.metrics, { runId: run.id });
    sinks.push(jsonl);
    jsonl.attach(bus);
    const tb = new TensorBoardSink(paths.dir, { runId: run.id });
    sinks.push(tb);
    tb.attach(bus);

    exp ??= await resolveExperiment(await readJsonFile(path.join(sweepDir, 'config.json'), true), {
      where: path.join(sweepDir, 'config.json'),
    });
    const { config } = exp;
    const entryIndex = config.agents.findIndex((a) => a.name === run.agent);
    const entry = config.agents[entryIndex];
    if (!entry) throw new Error(`the sweep's config.json has no agent '${run.agent}'`);
    const training = trainingOf(config, entry);
    const warn = hooks.warn ?? (() => undefined);

    const trainSet = await openSplit(config.dataset, 'train', warn);
    const valSet = await openSplit(config.dataset, 'val', warn);
    const evalSplit = config.evaluation.split;
    const evalSet = evalSplit === 'val' ? valSet : await openSplit(config.dataset, evalSplit, warn);

    // Paired streams: every agent of a seed starts from the same weights and sees the same batches.
    const streams = runStreams(run.seed);
    const env = await buildEnv(envIdOf(config.dataset), {
      dataset: trainSet,
      batchSize: training.batchSize,
      rng: streams.env,
      bus,
      augment: augmentOf(config.dataset),
      ...(entry.rewards.length ? { rewards: rewardSpecsOf(entry) } : {}),
    });
    close = () => env.close();
    agent = buildAgent({
      config: agentConfigOf(entry),
      model: exp.model,
      streams,
      training,
      totalSteps: training.steps ?? undefined,
      name: entry.name,
      where: `/agents/${entryIndex}`,
    });
    const fresh = !(await hasCheckpoint(paths.checkpoints));
    if (entry.initWeights && fresh) {
      if (isFprlWeightsFolder(entry.initWeights)) await initFromCheckpoint(agent, entry.initWeights);
      else await initFromImported(agent, entry.initWeights);
    }
    if (run.initFrom && fresh) {
      const [srcAgent, srcSeed] = run.initFrom.split('/seed-');
      await initFromCheckpoint(agent, runPaths(runDir(sweepDir, srcAgent, Number(srcSeed))).checkpoints);
    }
    if (entry.initLogitAdjustment && fresh) {
      const where = `/agents/${entryIndex}/initLogitAdjustment`;
      const src = config.agents.find((a) => a.name === entry.initFrom);
      const weights = entry.initLogitAdjustment === true ? src && classWeightsOf(src) : entry.initLogitAdjustment;
      shiftClassBias(agent, logitAdjustmentOf(weights, where) ?? [], where);
    }
    const record: RunConfigRecord = { experiment: config, agent: entry.name, seed: run.seed };
    const resumed = await readCheckpointMeta(paths.checkpoints);
    if (resumed) checkResume(resumed, record, paths.checkpoints, warn);
    const trained = await train({
      agent,
      env,
      bus,
      config: training,
      runId: run.id,
      seed: run.seed,
      evalDataset: valSet,
      evalSplit: 'val',
      checkpointDir: paths.checkpoints,
      trainSize: trainSet.length,
      runConfig: record,
      threads: job.threads,
      stop: hooks.stop,
    });
    stoppedAt = trained.stoppedAt;
    if (stoppedAt !== undefined) throw new Error(`stopped at the checkpoint of step ${stoppedAt}`);

    const evaluation = await evaluate(agent, evalSet, {
      batchSize: config.evaluation.batchSize,
      limit: config.evaluation.limit,
      pictures: config.evaluation.pictures,
      flip: config.evaluation.flip,
      logitBias: config.evaluation.logitAdjustment
        ? logitAdjustmentOf(classWeightsOf(entry), `/agents/${entryIndex}/classWeights`)
        : undefined,
    });
    const steps = await finalStep(paths.metrics, run.id);
    bus.emit('eval:end', {
      runId: run.id,
      step: steps,
      split: evalSplit,
      resolution: evaluation.resolution,
      metrics: evaluationMetrics(evaluation),
      perClass: evaluation.scores.perClass,
    });
    const picturesPng = await drawPictures(evaluation, paths.predictions, tb, steps);
    result = {
      agent: run.agent,
      seed: run.seed,
      status: 'ok',
      wallSeconds: (performance.now() - started) / 1000,
      final: finalOf(evaluation),
      curve: [],
      ...(picturesPng ? { picturesPng } : {}),
    };
  } catch (e) {
    result = {
      agent: run.agent,
      seed: run.seed,
      status: 'failed',
      error: isFprlError(e) ? e.describe() : ((e as Error)?.message ?? String(e)),
      wallSeconds: (performance.now() - started) / 1000,
      curve: [],
    };
  } finally {
    agent?.dispose();
    close?.();
  }
  // Flush the logs before reading the curves back from them (they hold resumed sessions too).
  for (const s of sinks) {
    try {
      await s.close();
    } catch (e) {
      if (result.status === 'ok') result = { ...result, status: 'failed', error: describe(e) };
    }
  }
  bus.close();
  // Stopped on request: not finished, so no result.json (the next session resumes the checkpoint).
  if (stoppedAt !== undefined) return { status: 'failed', error: result.error, stoppedAt };
  try {
    const log = await readMetricsLog(paths.metrics);
    const curves = curvesFromLog(log.records, { runId: run.id, split: 'val' });
    result.curve = curves.curve;
    result.train = curves.train;
  } catch {
    // No log (the run failed before its first event): the result has no curves.
  }
  try {
    await writeJsonAtomic(paths.result, result);
  } catch (e) {
    result = { ...result, status: 'failed', error: describe(e) }; // names result.json
  }
  if (!startedEmitted)
    emit({ type: 'run:start', runId: run.id, agent: run.agent, seed: run.seed, totalSteps: 0 });
  emit({
    type: 'run:end',
    runId: run.id,
    status: result.status,
    error: result.error,
    wallSeconds: result.wallSeconds,
  });
  return { status: result.status, error: result.error };
}

/**
 * result.json's `final`: the headline scores at each label's own size (`resolution`), and the
 * same predictions at the model's input size under `modelSize` when the sizes differ.
 */
function finalOf(evaluation: EvaluationResult): NonNullable<RunResult['final']> {
  const kept = (m: Record<string, number>) =>
    Object.fromEntries(Object.entries(m).filter(([k]) => RESULT_METRIC.test(k)));
  const m = evaluation.modelSize;
  return {
    metrics: kept(evaluationMetrics(evaluation)),
    perClass: evaluation.scores.perClass,
    resolution: evaluation.resolution,
    ...(evaluation.flip ? { flip: true } : {}),
    ...(evaluation.logitAdjusted ? { logitAdjusted: true } : {}),
    ...(m
      ? {
          modelSize: {
            height: m.height,
            width: m.width,
            metrics: kept(scoreMetrics(m)),
            perClass: m.scores.perClass,
          },
        }
      : {}),
  };
}

/** An agent entry's cross-entropy class weights (a built-in kind's option), if it has them. */
export function classWeightsOf(entry: AgentEntry): number[] | undefined {
  const w = (entry as { classWeights?: unknown }).classWeights;
  return Array.isArray(w) && w.every((x) => typeof x === 'number') ? (w as number[]) : undefined;
}

function describe(e: unknown): string {
  return isFprlError(e) ? e.describe() : ((e as Error)?.message ?? String(e));
}

/** The last training step in the log (the step of the final evaluation). */
async function finalStep(metricsFile: string, runId: string): Promise<number> {
  const log = await readMetricsLog(metricsFile);
  let step = 0;
  for (const r of log.records)
    if (r.runId === runId && typeof r.step === 'number') step = Math.max(step, r.step);
  return step;
}

async function drawPictures(
  evaluation: EvaluationResult,
  file: string,
  tb: TensorBoardSink,
  step: number,
): Promise<string | undefined> {
  const pics = evaluation.pictures;
  if (pics.length === 0) return undefined;
  const png = await renderPredictionGrid({
    images: pics.map((p) => p.image),
    truth: pics.map((p) => p.truth),
    pred: pics.map((p) => p.prediction),
    height: pics[0].height,
    width: pics[0].width,
  });
  await writeFileAtomic(file, png);
  const size = predictionGridSize(pics.length, pics[0].height, pics[0].width);
  tb.addImage('predictions/truth_prediction_error', step, png, size.height, size.width);
  return file;
}

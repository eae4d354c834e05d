/**
 * The training loop for one agent on one env:
 *
 *   reset -> [act (sample k, + greedy for self-critical) -> step] -> learn -> emit train:step
 *   every evalEvery steps and at the end: greedy evaluation on held-out faces -> eval:end
 *   every checkpointEvery steps and at the end: atomic checkpoint -> checkpoint
 *
 * It resumes from the checkpoint folder when one is there. A non-finite loss or reward stops
 * the run with an FprlError naming the step and the agent; the last good checkpoint is kept
 * (nothing is written after the bad step). The trainer never prints: sinks listen on the bus.
 */
import type { Agent, Dataset, Env, Experience, StepResult } from '../core/types.js';
import type { EventBus } from '../core/bus.js';
import { FprlError } from '../core/errors.js';
import { isFprlAgent, type AgentNeeds } from '../../agents/base.js';
import type { RlExperience } from '../../agents/reinforce.js';
import { totalSteps as plannedSteps, type TrainingConfig } from '../optim/config.js';
import { hasCheckpoint, loadCheckpoint, writeCheckpoint, type TrainerState } from './checkpoint.js';
import { evaluate, evaluationMetrics, type EvaluationResult } from './evaluate.js';
import { attachParallel, type ThreadChoice } from './parallel.js';

/** An env that can hand out and restore its sampler state (exact resume of the data order). */
export interface StatefulEnv extends Env {
  getState(): unknown;
  setState(state: unknown): void;
}

function isStateful(env: Env): env is StatefulEnv {
  const e = env as Partial<StatefulEnv>;
  return typeof e.getState === 'function' && typeof e.setState === 'function';
}

export interface TrainOptions {
  agent: Agent;
  env: Env;
  bus: EventBus;
  /** Resolved training config (resolveTrainingConfig). */
  config: TrainingConfig;
  runId: string;
  seed: number;
  /** Held-out faces for the greedy evaluations; without it there is no eval:end. */
  evalDataset?: Dataset;
  /** Name of the evaluation split in eval:end. */
  evalSplit?: string;
  /** Checkpoint folder (replaced at each save); the run resumes from it when it holds one. */
  checkpointDir?: string;
  /** Resume from `checkpointDir` when it holds a checkpoint (default true). */
  resume?: boolean;
  /** Training set size, for `epochs`. */
  trainSize?: number;
  /** Stored in checkpoints and run:start (e.g. the experiment's resolved agent entry). */
  runConfig?: unknown;
  /** Pictures returned from the final evaluation. */
  pictures?: number;
  numClasses?: number;
  /** Data-parallel threads beyond the config's `threads` (src/train/parallel.ts); default one thread. */
  threads?: ThreadChoice;
  /**
   * Asked after each periodic checkpoint: true ends training there, with `stoppedAt` set and no
   * final evaluation or run:end (a queue worker shutting down; the run resumes from that checkpoint).
   */
  stop?: () => boolean;
}

export interface TrainResult {
  /** Steps done in total (including those before a resume). */
  steps: number;
  /** Step the run resumed from (0 = fresh). */
  resumedFrom: number;
  /** The final evaluation, when there was an evaluation set. */
  evaluation?: EvaluationResult;
  /** The last step's scalars. */
  lastScalars: Record<string, number>;
  wallSeconds: number;
  /** The checkpoint step training stopped at on request (`stop`); the run is not finished. */
  stoppedAt?: number;
}

const DEFAULT_NEEDS: AgentNeeds = { target: true, reward: true, greedyReward: false, samples: 1 };

/** Split a step result of K sampled labellings plus one greedy labelling (sample-major, greedy last). */
function splitGreedy(
  r: StepResult,
  K: number,
  B: number,
  P: number,
): { sampled: StepResult; greedy: StepResult } {
  const cut = <T extends Float32Array | undefined>(a: T, per: number): [T, T] =>
    (a ? [a.subarray(0, K * B * per), a.subarray(K * B * per)] : [undefined, undefined]) as [T, T];
  const [rs, rg] = cut(r.reward, 1);
  const [ps, pg] = cut(r.pixelReward, P);
  const cs: Record<string, Float32Array> = {};
  const cg: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(r.components)) [cs[k], cg[k]] = cut(v, 1);
  const info = (samples: number) => ({ ids: r.info.ids, samples });
  return {
    sampled: { ...r, reward: rs, pixelReward: ps, components: cs, info: info(K) },
    greedy: { ...r, reward: rg, pixelReward: pg, components: cg, info: info(1) },
  };
}

function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

/** One training step: the experience the agent needs, then learn. Returns its scalars. */
async function trainStep(agent: Agent, env: Env, needs: AgentNeeds): Promise<Record<string, number>> {
  const { observation } = await env.reset();
  const exp: RlExperience & Experience = { observation };
  if (needs.target) exp.target = env.optimalAction();
  const scalars: Record<string, number> = {};
  if (needs.reward) {
    const action = await agent.act(observation, 'sample', needs.samples);
    const [B, H, W] = observation.images.shape;
    const P = H * W;
    let labels = action.labels;
    if (needs.greedyReward) {
      // One env step scores the k samples and the greedy labelling together (the env steps once per reset).
      const greedy = await agent.act(observation, 'greedy');
      labels = new Int32Array(action.labels.length + greedy.labels.length);
      labels.set(action.labels);
      labels.set(greedy.labels, action.labels.length);
    }
    let result = await env.step(labels, needs.pixelCredit ? { pixelCredit: needs.pixelCredit } : undefined);
    const bad = firstNonFinite(result.reward);
    if (bad >= 0) {
      throw new FprlError(`the reward of image ${bad} is ${result.reward[bad]}`, {
        where: `agent '${agent.name}'`,
        hint: 'a reward plugin returned NaN or Infinity; check its options and the labels',
      });
    }
    if (needs.greedyReward) {
      const parts = splitGreedy(result, action.samples, B, P);
      result = parts.sampled;
      exp.greedyReward = parts.greedy.reward;
      exp.greedyPixelReward = parts.greedy.pixelReward;
      scalars['reward/greedy_mean'] = mean(parts.greedy.reward);
    }
    exp.action = action;
    exp.result = result;
    for (const [name, v] of Object.entries(result.components)) scalars[`reward/${name}`] = mean(v);
  }
  return { ...scalars, ...(await agent.learn(exp)) };
}

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return a.length ? s / a.length : 0;
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const { agent, env, bus, config, runId } = opts;
  const started = performance.now();
  const total = plannedSteps(config, opts.trainSize);
  const needs = isFprlAgent(agent) ? agent.needs : DEFAULT_NEEDS;
  // Epoch-based configs know their length only here (it needs the training set size).
  if (isFprlAgent(agent)) agent.plannedSteps = total;
  let step = 0;
  let resumedFrom = 0;
  let lastCheckpointStep: number | undefined;
  let lastScalars: Record<string, number> = {};
  let evaluation: EvaluationResult | undefined;

  const runEval = async (final: boolean): Promise<void> => {
    if (!opts.evalDataset) return;
    const r = await evaluate(agent, opts.evalDataset, {
      batchSize: config.evalBatchSize,
      limit: config.evalLimit,
      pictures: final ? (opts.pictures ?? 0) : 0,
      numClasses: opts.numClasses,
      // Learning curves at the model's size (cheaper); a run's final evaluation is at native size.
      resolution: 'model',
    });
    if (final) evaluation = r;
    bus.emit('eval:end', {
      runId,
      step,
      split: opts.evalSplit ?? 'val',
      resolution: r.resolution,
      metrics: evaluationMetrics(r),
      perClass: r.scores.perClass,
    });
  };

  const checkpoint = async (): Promise<void> => {
    if (!opts.checkpointDir) return;
    const state: TrainerState = { step, runId, env: isStateful(env) ? env.getState() : undefined };
    const p = await writeCheckpoint(opts.checkpointDir, agent, state, opts.runConfig);
    lastCheckpointStep = step;
    bus.emit('checkpoint', { runId, step, path: p });
  };

  bus.emit('run:start', {
    runId,
    agent: agent.name,
    seed: opts.seed,
    totalSteps: total,
    config: opts.runConfig,
  });
  // Data-parallel threads (src/parallel/): attached for the loop, detached whatever happens.
  let parallel: Awaited<ReturnType<typeof attachParallel>>;
  try {
    const [B, H, W] = env.observationSpace.shape;
    parallel = await attachParallel(agent, config.threads, B * H * W, opts.threads);
    if (opts.checkpointDir && opts.resume !== false && (await hasCheckpoint(opts.checkpointDir))) {
      const meta = await loadCheckpoint(opts.checkpointDir, agent);
      step = resumedFrom = lastCheckpointStep = meta.step;
      if (meta.trainer.env !== undefined && isStateful(env)) env.setState(meta.trainer.env);
    }

    while (step < total) {
      const t0 = performance.now();
      let scalars: Record<string, number>;
      try {
        scalars = await trainStep(agent, env, needs);
      } catch (e) {
        throw stepError(e, step + 1, agent.name, lastCheckpointStep, opts.checkpointDir);
      }
      step++;
      const bad = Object.entries(scalars).find(([, v]) => !Number.isFinite(v));
      if (bad) {
        throw stepError(
          new FprlError(`'${bad[0]}' is ${bad[1]}`, { hint: 'lower the learning rate or keep gradClip on' }),
          step,
          agent.name,
          lastCheckpointStep,
          opts.checkpointDir,
        );
      }
      const seconds = (performance.now() - t0) / 1000;
      scalars['perf/images_per_s'] = config.batchSize / seconds;
      scalars['perf/step_ms'] = seconds * 1000;
      scalars['perf/threads'] = parallel?.active() ?? 1;
      parallel?.stepDone(seconds * 1000);
      lastScalars = scalars;
      if (step % config.logEvery === 0 || step === total) bus.emit('train:step', { runId, step, scalars });
      if (config.evalEvery > 0 && step % config.evalEvery === 0 && step < total) await runEval(false);
      if (config.checkpointEvery > 0 && step % config.checkpointEvery === 0 && step < total) {
        await checkpoint();
        if (opts.checkpointDir && opts.stop?.()) {
          const wallSeconds = (performance.now() - started) / 1000;
          return { steps: step, resumedFrom, lastScalars, wallSeconds, stoppedAt: step };
        }
      }
    }
    await runEval(true);
    if (lastCheckpointStep !== step) await checkpoint();
    const wallSeconds = (performance.now() - started) / 1000;
    bus.emit('run:end', { runId, status: 'ok', wallSeconds });
    return { steps: step, resumedFrom, evaluation, lastScalars, wallSeconds };
  } catch (e) {
    bus.emit('run:end', {
      runId,
      status: 'failed',
      error: e instanceof FprlError ? e.describe() : (e as Error).message,
      wallSeconds: (performance.now() - started) / 1000,
    });
    throw e;
  } finally {
    await parallel?.detach();
  }
}

/** Wrap an error of step `step` so it names the step and the agent and says what was kept. */
function stepError(
  e: unknown,
  step: number,
  agentName: string,
  kept: number | undefined,
  dir?: string,
): FprlError {
  const inner = e as Error;
  const base = inner instanceof FprlError ? inner.message : (inner.message ?? String(e));
  const keptNote = dir
    ? kept !== undefined
      ? `the last good checkpoint (step ${kept}) is kept in ${dir}`
      : 'no checkpoint was written before this step'
    : 'no checkpoint folder was given';
  const hint = [inner instanceof FprlError ? inner.hint : undefined, keptNote].filter(Boolean).join('; ');
  return new FprlError(`training of agent '${agentName}' stopped at step ${step}: ${base}`, {
    where: inner instanceof FprlError && inner.where ? inner.where : `agent '${agentName}'`,
    hint,
    cause: e,
  });
}

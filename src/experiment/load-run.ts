/**
 * Rebuilding a finished (or checkpointed) run's agent for `fprl eval` and `fprl predict`.
 * A run's checkpoint records the resolved experiment and the agent's name (see run-one.ts),
 * so the checkpoint alone is enough; the sweep's config.json is the fallback. Reloading the
 * experiment imports its `agentModules` again, so a run of a user's agent kind reloads too.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { FprlError } from '../core/errors.js';
import { loadCheckpoint, readCheckpointMeta } from '../train/checkpoint.js';
import { buildAgent, runStreams } from '../train/build.js';
import type { Agent } from '../core/types.js';
import { RUN_FILES } from './layout.js';
import { agentConfigOf, resolveExperiment, trainingOf, type ResolvedExperiment } from './load.js';
import { readJsonFile } from './results.js';
import { classWeightsOf, type RunConfigRecord } from './run-one.js';
import { logitAdjustmentOf } from '../train/evaluate.js';
import type { AgentEntry } from './schema.js';

export interface LoadedRun {
  agent: Agent;
  exp: ResolvedExperiment;
  entry: AgentEntry;
  seed: number;
  /** The checkpoint folder the weights came from, and its step. */
  checkpoint: string;
  step: number;
}

const HINT =
  'give a run folder (runs/<experiment>-<time>/<agent>/seed-<n>) whose training wrote a checkpoint, or its checkpoints/ folder';

/** The checkpoint folder of `dir`: `dir/checkpoints`, or `dir` itself. */
export async function checkpointDir(dir: string): Promise<string> {
  if (!existsSync(dir)) throw new FprlError('no such folder', { where: dir, hint: HINT });
  for (const c of [path.join(dir, RUN_FILES.checkpoints), dir]) if (await readCheckpointMeta(c)) return c;
  throw new FprlError('no checkpoint here', { where: dir, hint: HINT });
}

/** Load the agent of a run from its final (latest) checkpoint. The caller disposes `agent`. */
export async function loadRun(dir: string): Promise<LoadedRun> {
  const ckpt = await checkpointDir(dir);
  const meta = (await readCheckpointMeta(ckpt))!;
  let record = meta.config as Partial<RunConfigRecord> | undefined;
  if (!record?.experiment || !record.agent) {
    // A checkpoint without its run record: <sweep>/<agent>/seed-<n>/checkpoints.
    const runFolder = path.basename(ckpt) === RUN_FILES.checkpoints ? path.dirname(ckpt) : ckpt;
    const sweep = path.dirname(path.dirname(runFolder));
    const seed = /^seed-(\d+)$/.exec(path.basename(runFolder));
    const config = await readJsonFile(path.join(sweep, 'config.json'));
    if (!config || !seed) {
      throw new FprlError('the checkpoint does not say which experiment and agent it belongs to', {
        where: ckpt,
        hint: 'give a run folder inside a sweep folder written by fprl run (it holds config.json)',
      });
    }
    record = {
      experiment: config as RunConfigRecord['experiment'],
      agent: path.basename(path.dirname(runFolder)),
      seed: Number(seed[1]),
    };
  }
  const exp = await resolveExperiment(record.experiment, {
    where: `${ckpt} (run config)`,
    checkPaths: false,
    // Read to predict or evaluate with the run's network, not to train: no training-memory check.
    memory: false,
  });
  const index = exp.config.agents.findIndex((a) => a.name === record!.agent);
  const entry = exp.config.agents[index];
  if (!entry) {
    throw new FprlError(`the run's experiment has no agent '${record.agent}'`, { where: ckpt, hint: HINT });
  }
  const seed = record.seed ?? 0;
  const agent = buildAgent({
    config: agentConfigOf(entry),
    model: exp.model,
    streams: runStreams(seed),
    training: trainingOf(exp.config, entry),
    name: entry.name,
    where: `/agents/${index}`,
  });
  try {
    await loadCheckpoint(ckpt, agent);
  } catch (e) {
    agent.dispose();
    throw e;
  }
  return { agent, exp, entry, seed, checkpoint: ckpt, step: meta.step };
}

/**
 * `--logit-adjustment` for a loaded run (fprl eval, fprl predict): -log of its agent's class
 * weights. Refused, naming the flag, when the agent was trained without class weights or gives
 * no logits (the caller disposes the agent).
 */
export function runLogitAdjustment(loaded: LoadedRun): number[] {
  const weights = classWeightsOf(loaded.entry);
  const agent = loaded.entry.name;
  if (!weights || !loaded.agent.logits) {
    throw new FprlError(
      weights
        ? `agent '${agent}' gives no logits to adjust`
        : `agent '${agent}' was trained without class weights: there is nothing to adjust`,
      { where: '--logit-adjustment', hint: 'drop --logit-adjustment for this run' },
    );
  }
  return logitAdjustmentOf(weights, `agent '${agent}' classWeights`)!;
}

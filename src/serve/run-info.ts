/**
 * What `fprl serve` tells the page about the run it serves (`GET /api/run`): where the policy's
 * checkpoint lies under `/run/`, the model's input size, the served agent's reward components
 * (as the env takes them: named, weighted, with their options; the env's default `f1` when the
 * agent configures none), the experiment's `rewardModules`, and its data folder (a `lapa` or
 * `celebamask` dataset: splits and sizes, dataset.ts). A folder that is not a run is no reason to stop serving: the page shows
 * the error (naming the folder) and the reward playground works without a checkpoint.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { FprlError } from '../core/errors.js';
import { readCheckpointMeta } from '../train/checkpoint.js';
import { checkpointDir } from '../experiment/load-run.js';
import type { RunConfigRecord } from '../experiment/run-one.js';
import { RUN_FILES } from '../experiment/layout.js';
import { readJsonFile } from '../experiment/results.js';
import type { DatasetConfig } from '../experiment/schema.js';
import { DEFAULT_REWARDS } from '../../envs/bandit-env.js';
import type { RunInfo } from './api.js';
import { DatasetFiles } from './dataset.js';

export type { RunInfo } from './api.js';


interface ExperimentRecord {
  agents?: { name: string; rewards?: { name?: string; plugin: string; weight?: number; options?: Record<string, unknown> }[] }[];
  rewardModules?: string[];
  dataset?: DatasetConfig;
}

/** The run info of `dir` (never throws for a bad folder: the error goes into `error`). */
export async function readRunInfo(
  dir: string | undefined,
): Promise<{ info: RunInfo; root?: string; modules: string[]; data?: DatasetFiles }> {
  if (dir === undefined) return { info: { rewardModules: [] }, modules: [] };
  try {
    const ckpt = await checkpointDir(dir);
    const meta = (await readCheckpointMeta(ckpt))!;
    let record = meta.config as Partial<RunConfigRecord> | undefined;
    if (!record?.experiment) {
      const runFolder = path.basename(ckpt) === RUN_FILES.checkpoints ? path.dirname(ckpt) : ckpt;
      const config = await readJsonFile(path.join(path.dirname(path.dirname(runFolder)), 'config.json'));
      record = { experiment: config as RunConfigRecord['experiment'], agent: path.basename(path.dirname(runFolder)) };
    }
    const exp = (record.experiment ?? {}) as ExperimentRecord;
    const agentName = record.agent ?? meta.agent?.name;
    const policy = path.join(ckpt, 'agent', 'policy');
    if (!existsSync(path.join(policy, 'model.json'))) {
      throw new FprlError(`the agent '${agentName ?? '?'}' has no Face Transformer checkpoint to run in a browser`, {
        where: path.join(policy, 'model.json'),
        hint: 'serve a run of a supervised or reinforce agent with a vit or hybrid model',
      });
    }
    const root = path.resolve(dir);
    const rel = path.relative(root, policy).split(path.sep).map(encodeURIComponent).join('/');
    const modules = (exp.rewardModules ?? []).map((m) => path.resolve(m));
    // As run-one.ts hands them to the env (rewardSpecsOf), or the env's default.
    const configured = exp.agents?.find((a) => a.name === agentName)?.rewards ?? [];
    const rewards = configured.length
      ? configured.map((r) => ({ name: r.name ?? r.plugin, plugin: r.plugin, weight: r.weight ?? 1, options: r.options ?? {} }))
      : DEFAULT_REWARDS.map((r) => ({ name: r.name, plugin: r.plugin, weight: r.weight, options: r.options ?? {} }));
    const data = exp.dataset && exp.dataset.kind !== 'synthetic' ? await DatasetFiles.open(exp.dataset) : undefined;
    const info: RunInfo = {
      dir,
      agent: agentName,
      seed: record.seed,
      step: meta.step,
      policyUrl: `/run/${rel}/`,
      policyPath: policy,
      rewards,
      ...(configured.length ? {} : { rewardsDefault: true }),
      dataset: data?.info,
      rewardModules: modules.map((file, i) => ({ file, url: `/api/reward-module/${i}.js` })),
    };
    return { info, root, modules, data };
  } catch (e) {
    const error = e instanceof FprlError ? e.describe() : `${(e as Error).message} (${dir})`;
    return { info: { dir, error, rewardModules: [] }, modules: [] };
  }
}

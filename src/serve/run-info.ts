/**
 * What `fprl serve` tells the page about the run it serves (`GET /api/run`): where the policy's
 * checkpoint lies under `/run/`, the model's input size, the experiment's reward components and
 * its `rewardModules`. A folder that is not a run is no reason to stop serving: the page shows
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

/** The run as the page sees it (JSON). */
export interface RunInfo {
  /** The folder given to `fprl serve` (as given), or none. */
  dir?: string;
  /** Why there is no checkpoint to parse with: FprlError.describe(), naming the file. */
  error?: string;
  agent?: string;
  seed?: number;
  step?: number;
  /** URL folder of the policy's model.json + weights.bin (under /run/), and its path for messages. */
  policyUrl?: string;
  policyPath?: string;
  /** The experiment's reward components (plugin and options) of the served agent. */
  rewards?: { name?: string; plugin: string; weight?: number; options?: unknown }[];
  /** The experiment's `rewardModules`, served bundled at /api/reward-module/<i>.js. */
  rewardModules: { file: string; url: string }[];
}

interface ExperimentRecord {
  agents?: { name: string; rewards?: RunInfo['rewards'] }[];
  rewardModules?: string[];
}

/** The run info of `dir` (never throws for a bad folder: the error goes into `error`). */
export async function readRunInfo(dir: string | undefined): Promise<{ info: RunInfo; root?: string; modules: string[] }> {
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
    const info: RunInfo = {
      dir,
      agent: agentName,
      seed: record.seed,
      step: meta.step,
      policyUrl: `/run/${rel}/`,
      policyPath: policy,
      rewards: exp.agents?.find((a) => a.name === agentName)?.rewards,
      rewardModules: modules.map((file, i) => ({ file, url: `/api/reward-module/${i}.js` })),
    };
    return { info, root, modules };
  } catch (e) {
    const error = e instanceof FprlError ? e.describe() : `${(e as Error).message} (${dir})`;
    return { info: { dir, error, rewardModules: [] }, modules: [] };
  }
}

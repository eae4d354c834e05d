/**
 * `fprl diagnose --agent CONFIG [--batches N] [--preset tiny-64] [--reward dice]
 * [--reward-options JSON] [--difficulty easy] ...`:
 * the variance of the policy-gradient estimate for each baseline at fixed weights (fresh, or
 * from a checkpoint), over the same batches and samples, so baselines compare directly.
 * The estimator logic lives in src/train/diagnose.ts.
 */
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { initBackend, describeBackend } from '../backend/backend.js';
import { FprlError } from '../core/errors.js';
import { parseJsonText } from '../experiment/json-position.js';
import { Rng } from '../core/rng.js';
import { EventBus } from '../core/bus.js';
import { BASELINES, type AgentConfig, type BaselineKind } from '../../agents/config.js';
import { resolveModelPreset } from '../../agents/vit/index.js';
import { buildPolicyNet } from '../../agents/nets/registry.js';
import { loadPolicyFromCheckpoint } from '../train/checkpoint.js';
import { diagnoseBaselines, formatDiagnosis, type Diagnosis } from '../train/diagnose.js';
import { buildEnv } from '../train/build.js';

export interface DiagnoseCommandOptions {
  /** A JSON file with a reinforce agent config, or the JSON itself. */
  agent: string;
  batches?: number;
  warmup?: number;
  /** Model preset, any kind (or a JSON object: a preset and overrides, or ViT sizes). */
  preset?: string;
  /** Checkpoint (or saved agent) folder whose policy weights to study; default fresh weights. */
  checkpoint?: string;
  /** Reward plugin name (default dice). */
  reward?: string;
  /** The reward plugin's options as JSON, e.g. '{"includeBackground":true}' (checked by its schema). */
  rewardOptions?: string;
  /** Synthetic faces only: 'easy' | 'medium' | 'hard' (default: the env's, 'hard'). */
  difficulty?: 'easy' | 'medium' | 'hard';
  /** A LaPa-layout folder; default synthetic faces. */
  data?: string;
  batchSize?: number;
  samples?: number;
  baselines?: string;
  seed?: number;
}

async function readAgentConfig(spec: string): Promise<Partial<AgentConfig>> {
  const text = spec.trim().startsWith('{')
    ? spec
    : await fs.readFile(spec, 'utf8').catch((e: NodeJS.ErrnoException) => {
        throw new FprlError(`cannot read the agent config (${e.code ?? e.message})`, {
          where: spec,
          hint: '--agent takes a JSON file with a reinforce agent config, or the JSON itself',
        });
      });
  const where = spec.trim().startsWith('{') ? '--agent' : spec;
  try {
    return parseJsonText(text, where) as Partial<AgentConfig>;
  } catch (e) {
    if (!(e instanceof FprlError)) throw e;
    throw new FprlError(`the agent config is ${e.message}`, { where, hint: e.hint, cause: e });
  }
}

const DIFFICULTIES = ['easy', 'medium', 'hard'] as const;

function parseRewardOptions(json: string | undefined): Record<string, unknown> | undefined {
  if (json === undefined) return undefined;
  let v: unknown;
  // A JSON object, or the name of a file holding one.
  const fromFile = !json.trim().startsWith('{') && existsSync(json);
  const where = fromFile ? json : '--reward-options';
  try {
    v = parseJsonText(fromFile ? readFileSync(json, 'utf8') : json, where);
  } catch (e) {
    if (!(e instanceof FprlError)) throw e;
    throw new FprlError(`the reward options are ${e.message}`, {
      where,
      hint: 'give a JSON object, e.g. \'{"includeBackground":true}\'',
      cause: e,
    });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new FprlError('the reward options must be a JSON object', {
      where: '--reward-options',
      hint: 'e.g. \'{"includeBackground":true}\'',
    });
  }
  return v as Record<string, unknown>;
}

function parseBaselines(list: string | undefined): BaselineKind[] {
  if (!list) return [...BASELINES];
  const out = list.split(',').map((s) => s.trim());
  const bad = out.filter((b) => !(BASELINES as readonly string[]).includes(b));
  if (bad.length) {
    throw new FprlError(`unknown baseline(s): ${bad.join(', ')}`, {
      where: '--baselines',
      hint: `choose from ${BASELINES.join(', ')}`,
    });
  }
  return out as BaselineKind[];
}

/** Build the env and policy the flags describe and measure every baseline. */
export async function diagnoseCommand(
  o: DiagnoseCommandOptions,
  onBatch?: (b: string, i: number) => void,
): Promise<Diagnosis> {
  const agent = await readAgentConfig(o.agent);
  if (agent.kind !== undefined && agent.kind !== 'reinforce') {
    throw new FprlError(`diagnose studies REINFORCE estimators, the config is a '${agent.kind}' agent`, {
      where: o.agent,
      hint: 'give a config with kind "reinforce" (its credit, samples and normalisation are used)',
    });
  }
  const baselines = parseBaselines(o.baselines);
  const rewardOptions = parseRewardOptions(o.rewardOptions);
  if (o.difficulty !== undefined && !DIFFICULTIES.includes(o.difficulty)) {
    throw new FprlError(`unknown difficulty '${o.difficulty as string}'`, {
      where: '--difficulty',
      hint: `choose from ${DIFFICULTIES.join(', ')} (synthetic faces only)`,
    });
  }
  if (o.samples !== undefined) agent.samples = o.samples;
  const preset = o.preset ?? 'tiny-64';
  const model = resolveModelPreset(
    preset.trim().startsWith('{') ? (parseJsonText(preset, '--preset') as Record<string, unknown>) : preset,
  );
  const seed = o.seed ?? 0;
  const policy = buildPolicyNet({ kind: model.kind, config: model.config }, new Rng(seed, 'diagnose/model'));
  const bus = new EventBus();
  const env = await buildEnv(o.data ? 'FaceParsing-v0' : 'SyntheticFaces-v0', {
    root: o.data,
    size: model.imageSize,
    batchSize: o.batchSize ?? 8,
    seed,
    bus,
    ...(o.data ? {} : { difficulty: o.difficulty }),
    rewards: [
      {
        name: o.reward ?? 'dice',
        plugin: o.reward ?? 'dice',
        weight: 1,
        ...(rewardOptions ? { options: rewardOptions } : {}),
      },
    ],
  });
  try {
    if (o.checkpoint) await loadPolicyFromCheckpoint(policy, o.checkpoint);
    return await diagnoseBaselines({
      env,
      policy,
      agent,
      baselines,
      batches: o.batches ?? 20,
      warmupBatches: o.warmup ?? 5,
      seed,
      onBatch,
    });
  } finally {
    env.close();
    bus.close();
    policy.dispose();
  }
}

const int = (flag: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new FprlError(`${flag} must be a non-negative integer, got '${v}'`, { where: flag });
  return n;
};

export function register(program: Command): void {
  program
    .command('diagnose')
    .description(
      'variance of the policy-gradient estimate for each baseline at fixed weights (paired batches)',
    )
    .requiredOption('--agent <config>', 'reinforce agent config: a JSON file, or the JSON itself')
    .option('--batches <n>', 'batches measured per baseline', int('--batches'), 20)
    .option('--warmup <n>', 'batches to warm up the ema and fit the critic on', int('--warmup'), 5)
    .option('--preset <name>', 'model preset (ViT or hybrid) or JSON sizes', 'tiny-64')
    .option('--checkpoint <dir>', 'study the policy weights of this checkpoint (default: fresh weights)')
    .option('--reward <plugin>', 'reward plugin', 'dice')
    .option(
      '--reward-options <json>',
      "the reward plugin's options: JSON, e.g. '{\"includeBackground\":true}', or a JSON file",
    )
    .option('--difficulty <level>', 'synthetic faces: easy, medium or hard (default hard)')
    .option('--data <dir>', 'a LaPa-layout folder (default: synthetic faces)')
    .option('--batch-size <n>', 'images per batch', int('--batch-size'), 8)
    .option('--samples <k>', 'samples per image (overrides the config)', int('--samples'))
    .option('--baselines <list>', `comma-separated subset of ${BASELINES.join(',')}`)
    .option('--seed <n>', 'seed of the model, data and samples', int('--seed'), 0)
    .option('--backend <name>', 'compute backend: auto, tensorflow-gpu, tensorflow, wasm, cpu')
    .option('--json', 'print the result as JSON')
    .action(async (flags: DiagnoseCommandOptions & { backend?: string; json?: boolean }) => {
      const info = await initBackend(flags.backend);
      if (!flags.json) process.stderr.write(`${describeBackend(info)}\n`);
      const d = await diagnoseCommand(flags);
      process.stdout.write(`${flags.json ? JSON.stringify(d, null, 2) : formatDiagnosis(d)}\n`);
    });
}

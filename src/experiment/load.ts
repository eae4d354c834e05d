/**
 * Loading an experiment: read the JSON (syntax errors with line and column), expand
 * `${ENV_VAR}`s, import the `agentModules` (their kinds join the schema), validate against the
 * schema (defaults filled in), then check what a schema cannot: reward plugins and their options
 * against the reward registry, each agent kind's rules (rloo needs k >= 2...), `initFrom` links,
 * the model's sizes. Every problem found is listed in one
 * error, each with its JSON path and what is allowed.
 */
import type { ValidateFunction } from 'ajv';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { AgentDefinition, AgentKindConfig, AgentRewardInfo } from '../../agents/define.js';
import { importAgents } from '../../agents/load.js';
import { BUILTIN_AGENT_KINDS } from '../../agents/builtin-kinds.js';
import {
  agentRegistry,
  registerBuiltinAgents,
  unknownKindHint,
  type AgentRegistry,
} from '../../agents/registry.js';
import { NUM_CLASSES } from '../core/classes.js';
import { ARCH_FIELDS, type ViTConfig } from '../../agents/vit/config.js';
import { readImportedConfig } from '../train/interop.js';
import type { HybridConfig } from '../../agents/vit/hybrid-config.js';
import { resolveModelPreset } from '../../agents/vit/presets.js';
import { FprlError, isFprlError } from '../core/errors.js';
import type { Registry } from '../core/registry.js';
import type { PolicyArchitecture, RewardPlugin, RewardSpec } from '../core/types.js';
import { importRewards } from './import-rewards.js';
import { optionsValidator } from '../../rewards/define.js';
import { registerBuiltinRewards, rewardRegistry } from '../../rewards/registry.js';
import { MIN_STEPS, resolveTrainingConfig, type TrainingConfig } from '../optim/config.js';
import { resolveAugment } from '../data/index.js';
import { augmentOf } from './datasets.js';
import { expandEnvVars } from './env-vars.js';
import { parseJsonText } from './json-position.js';
import { describeAjvErrors, validatorFor, type ConfigIssue } from '../core/validate.js';
import { configError } from './issues.js';
import { checkAgentGraph } from './plan.js';
import { availableMemory, checkMemory, type MemoryBudget } from './resources.js';
import {
  experimentSchema,
  MAX_SEEDS,
  PATH_FIELDS,
  type AgentEntry,
  type ExperimentConfig,
} from './schema.js';

/** The compiled experiment schema for one list of agent kinds (recompiled when the kinds change). */
let compiled: { kinds: readonly AgentDefinition[]; validate: ValidateFunction } | undefined;
const importedModules = new WeakMap<Registry<RewardPlugin>, Set<string>>();

function experimentValidator(kinds: readonly AgentDefinition[]): ValidateFunction {
  if (!compiled || compiled.kinds.length !== kinds.length || compiled.kinds.some((k, i) => k !== kinds[i])) {
    const { $id: _id, ...schema } = experimentSchema(kinds);
    compiled = { kinds, validate: validatorFor(schema) };
  }
  return compiled.validate;
}

export interface LoadOptions {
  /** Variables for `${NAME}` (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Folder that relative paths are relative to (default: the experiment file's folder, else the cwd). */
  baseDir?: string;
  /** Reward registry to check plugins against (default: the global one, built-ins registered). */
  rewards?: Registry<RewardPlugin>;
  /** Agent registry whose kinds the agents may name (default: the global one, built-ins registered). */
  agents?: AgentRegistry;
  /** Replace the config's seeds (`--seeds`). */
  seeds?: number[];
  /** Train every agent this many steps (`--steps`, for quick tries). */
  steps?: number;
  /** Check that dataset folders exist (default true). */
  checkPaths?: boolean;
  /**
   * Memory to check the model's estimated needs against (default: what this process can have now,
   * availableMemory()); `false` skips the check (a config read only to be shown or compared).
   */
  memory?: MemoryBudget | false;
}

/** A validated experiment and what follows from it. */
export interface ResolvedExperiment {
  /** Defaults filled in, env vars expanded, paths absolute: what config.json of a sweep holds. */
  config: ExperimentConfig;
  /** The file it came from, if any. */
  source?: string;
  /** The config of every policy agent's network (a ViT, or a hybrid for the hybrid presets). */
  vit: ViTConfig | HybridConfig;
  /** That network as the policy-network registry builds it (agents/nets/registry.ts). */
  model: PolicyArchitecture;
}

/** Read, validate and resolve an experiment file. */
export async function loadExperiment(file: string, opts: LoadOptions = {}): Promise<ResolvedExperiment> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FprlError(
      code === 'ENOENT' ? 'no such experiment file' : `cannot read: ${(e as Error).message}`,
      {
        where: file,
        hint: 'give the path of an experiment JSON file, e.g. experiments/quickstart.json',
      },
    );
  }
  const raw = parseJson(text, file);
  const resolved = await resolveExperiment(raw, {
    ...opts,
    baseDir: opts.baseDir ?? path.dirname(path.resolve(file)),
    where: file,
  });
  return { ...resolved, source: file };
}

/** JSON.parse with the error's position given as line and column (see {@link parseJsonText}). */
export function parseJson(text: string, where: string): unknown {
  return parseJsonText(text, where);
}

/** Validate and resolve a parsed experiment (see {@link loadExperiment}). */
export async function resolveExperiment(
  raw: unknown,
  opts: LoadOptions & { where?: string } = {},
): Promise<ResolvedExperiment> {
  const where = opts.where ?? 'experiment config';
  const baseDir = opts.baseDir ?? process.cwd();
  const registry = opts.rewards ?? rewardRegistry;
  if (registry === rewardRegistry) registerBuiltinRewards();
  const agents = opts.agents ?? agentRegistry;
  if (agents === agentRegistry) registerBuiltinAgents();

  const doc = expandEnvVars(structuredClone(raw), opts.env ?? process.env, where, PATH_FIELDS) as Record<
    string,
    unknown
  >;
  if (doc && typeof doc === 'object' && typeof doc.model === 'string') doc.model = { preset: doc.model };
  // Agent kinds first: the schema of the agent entries is assembled from the registered kinds.
  // A malformed agentModules is left to the schema to report.
  const agentModules = doc?.agentModules;
  if (Array.isArray(agentModules) && agentModules.every((m) => typeof m === 'string' && m !== '')) {
    doc.agentModules = (agentModules as string[]).map((m) => path.resolve(baseDir, m));
    await importAgentModules(doc.agentModules as string[], agents, where);
  }
  const validate = experimentValidator(schemaOrder(agents.list()));
  if (!validate(doc)) throw configError(describeAjvErrors(validate.errors), where, schemaHint(doc, agents));
  const config = doc as unknown as ExperimentConfig;

  // Paths: absolute, relative to the experiment file.
  config.rewardModules = config.rewardModules.map((m) => path.resolve(baseDir, m));
  if (config.dataset.kind !== 'synthetic') {
    config.dataset.root = path.resolve(baseDir, config.dataset.root);
    if (config.dataset.cache !== undefined)
      config.dataset.cache = path.resolve(baseDir, config.dataset.cache);
  }
  for (const a of config.agents)
    if (a.initWeights !== undefined) a.initWeights = path.resolve(baseDir, a.initWeights);
  for (const [i, m] of config.rewardModules.entries()) {
    const seen = importedModules.get(registry) ?? new Set<string>();
    importedModules.set(registry, seen);
    if (seen.has(m)) continue;
    try {
      await importRewards(m, registry);
    } catch (e) {
      throw new FprlError(isFprlError(e) ? e.message : String(e), {
        where: `${where}: /rewardModules/${i}`,
        hint: isFprlError(e) ? e.hint : undefined,
      });
    }
    seen.add(m);
  }

  if (opts.seeds) config.seeds = [...checkSeedCount(opts.seeds)];
  if (opts.steps !== undefined) applyStepsOverride(config, checkStepsFlag(opts.steps));

  const issues: ConfigIssue[] = [];
  const model = checkModel(config, issues);
  try {
    resolveAugment(augmentOf(config.dataset) || {});
  } catch (e) {
    issues.push(issueFrom(e, '', '/dataset/augment', 'augment'));
  }
  issues.push(...checkAgentGraph(config.agents, config.seeds));
  config.agents.forEach((a, i) => checkAgent(config, a, i, registry, agents, issues));
  if (opts.checkPaths ?? true) config.agents.forEach((a, i) => checkInitWeights(a, i, model, issues));
  if ((opts.checkPaths ?? true) && config.dataset.kind !== 'synthetic' && !existsSync(config.dataset.root)) {
    issues.push({ path: '/dataset/root', message: `folder ${config.dataset.root} does not exist` });
  }
  // Memory last: the estimate needs a valid model and training config.
  if (!issues.length && model && opts.memory !== false)
    issues.push(
      ...checkMemory(config, model, agents, (a) => trainingOf(config, a), opts.memory ?? availableMemory()),
    );
  if (issues.length) throw configError(issues, where);
  return { config, vit: model!.config as ViTConfig | HybridConfig, model: model! };
}

/**
 * Import the agent modules (again: importing is idempotent, and a kind unregistered since is
 * registered anew); errors name the module's entry in the file.
 */
async function importAgentModules(files: string[], agents: AgentRegistry, where: string): Promise<void> {
  for (const [i, m] of files.entries()) {
    try {
      await importAgents(m, agents);
    } catch (e) {
      throw new FprlError(isFprlError(e) ? `${e.where ? `${e.where}: ` : ''}${e.message}` : String(e), {
        where: `${where}: /agentModules/${i}`,
        hint: isFprlError(e) ? e.hint : undefined,
        cause: e,
      });
    }
  }
}

/** The kinds in the order the schema lists them: the built-ins as shipped, then the others by name. */
function schemaOrder(kinds: AgentDefinition[]): AgentDefinition[] {
  const rank = (d: AgentDefinition) => {
    const i = BUILTIN_AGENT_KINDS.indexOf(d);
    return i < 0 ? BUILTIN_AGENT_KINDS.length : i;
  };
  return [...kinds].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

/** The hint of a refused config: an unknown agent kind gets the registered kinds and how to add one. */
function schemaHint(doc: Record<string, unknown>, agents: AgentRegistry): string | undefined {
  const list = Array.isArray(doc?.agents) ? (doc.agents as unknown[]) : [];
  const unknown = list.some((a) => {
    const kind = (a as { kind?: unknown } | null)?.kind;
    return typeof kind === 'string' && !agents.has(kind);
  });
  return unknown
    ? `${unknownKindHint(agents)}; experiments/schema.json describes every field of the built-in kinds`
    : undefined;
}

/** `--steps N`: every agent trains N steps (epochs and per-agent lengths are dropped). */
/** `--steps` (or the `steps` option): the same bound as `training.steps`. */
export function checkStepsFlag(steps: number): number {
  if (!Number.isInteger(steps) || steps < MIN_STEPS) {
    throw new FprlError(
      `${steps} is not an integer >= ${MIN_STEPS}: a run that trains nothing is no result`,
      {
        where: '--steps',
        hint: `e.g. --steps 10 for a quick try; to score a checkpoint without training, use fprl eval`,
      },
    );
  }
  return steps;
}

/** `--seeds` (or the `seeds` option): at most {@link MAX_SEEDS}. */
export function checkSeedCount(seeds: readonly number[]): readonly number[] {
  if (seeds.length > MAX_SEEDS) {
    throw new FprlError(`${seeds.length} seeds are more than ${MAX_SEEDS} (one run per agent and seed)`, {
      where: '--seeds',
      hint: 'give a shorter list or range, e.g. --seeds 0-4',
    });
  }
  return seeds;
}

function applyStepsOverride(config: ExperimentConfig, steps: number): void {
  delete config.training.epochs;
  config.training.steps = steps;
  for (const a of config.agents) {
    if (a.training) {
      delete a.training.epochs;
      delete a.training.steps;
    }
  }
}

/** Turn `where` of an FprlError thrown by a resolver (`<prefix>.a.b`) back into a JSON path. */
function issueFrom(e: unknown, prefix: string, fallback: string, dotted: string): ConfigIssue {
  if (!isFprlError(e)) return { path: fallback, message: String((e as Error)?.message ?? e) };
  let p = fallback;
  if (e.where?.startsWith(dotted)) p = fallback + e.where.slice(dotted.length).replace(/\./g, '/');
  const msg = e.message.replace(/^invalid configuration:\s*/, '');
  return { path: p.startsWith(prefix) ? p : prefix + p, message: e.hint ? `${msg} (${e.hint})` : msg };
}

function checkModel(config: ExperimentConfig, issues: ConfigIssue[]): PolicyArchitecture | undefined {
  const { preset, ...fields } = config.model;
  const size = config.dataset.size;
  if (fields.imageSize !== undefined && fields.imageSize !== size) {
    issues.push({
      path: '/model/imageSize',
      message: `is ${fields.imageSize} but the dataset's images are ${size} x ${size}; remove it (it defaults to the dataset size) or change /dataset/size`,
    });
    return undefined;
  }
  if (fields.patchSize !== undefined && size % fields.patchSize !== 0) {
    issues.push({
      path: '/model/patchSize',
      message: `${fields.patchSize} does not divide the image size ${size} (/dataset/size); patches must tile the image`,
    });
    return undefined;
  }
  try {
    const m = resolveModelPreset({ preset, ...fields, imageSize: size });
    return { kind: m.kind, config: m.config };
  } catch (e) {
    issues.push(issueFrom(e, '', '/model', /^hybrid/.test(preset ?? '') ? 'hybrid config' : 'vit config'));
    return undefined;
  }
}

/** What an absent optional architecture field means. */
const DEFAULT_OF: Partial<Record<(typeof ARCH_FIELDS)[number], string | number>> = {
  mlpActivation: 'relu',
  layerNormEps: 1e-5,
};

/** Whether `dir` is an fprl run's checkpoints folder or a saved agent folder (not an `fprl import` folder). */
export function isFprlWeightsFolder(dir: string): boolean {
  return existsSync(path.join(dir, 'checkpoint.json')) || existsSync(path.join(dir, 'agent.json'));
}

/**
 * An agent's `initWeights` folder exists and is either another run's checkpoints (or a saved
 * agent: its shapes are checked against the model when it is loaded) or was written by `fprl
 * import` and holds the architecture of the experiment's model (the dropout rates may differ).
 */
function checkInitWeights(
  a: AgentEntry,
  i: number,
  model: PolicyArchitecture | undefined,
  issues: ConfigIssue[],
): void {
  if (a.initWeights === undefined || !model) return;
  const at = `/agents/${i}/initWeights`;
  if (isFprlWeightsFolder(a.initWeights)) return;
  let imported: ViTConfig;
  try {
    imported = readImportedConfig(a.initWeights);
  } catch (e) {
    issues.push({
      path: at,
      message: `${a.initWeights}: ${isFprlError(e) ? e.message : String(e)} (write it with fprl import FILE --out DIR, or name a run's checkpoints folder)`,
    });
    return;
  }
  if (model.kind !== 'vit') {
    issues.push({
      path: at,
      message: `imported weights are a 'vit' Face Transformer but /model is a '${model.kind}' network`,
    });
    return;
  }
  const mine = model.config as ViTConfig;
  const differ = ARCH_FIELDS.filter((k) => imported[k] !== mine[k]).map(
    (k) => `${k} ${imported[k] ?? DEFAULT_OF[k]} there, ${mine[k] ?? DEFAULT_OF[k]} here`,
  );
  if (differ.length) {
    issues.push({
      path: at,
      message: `the imported model differs from /model: ${differ.join('; ')}; set /model to the imported architecture (fprl import printed it; ${a.initWeights}/fprl-import.json has it)`,
    });
  }
}

function checkAgent(
  config: ExperimentConfig,
  a: AgentEntry,
  i: number,
  registry: Registry<RewardPlugin>,
  agents: AgentRegistry,
  issues: ConfigIssue[],
): void {
  const at = `/agents/${i}`;
  const kind = agents.get(a.kind); // the schema admitted only registered kinds
  const rewards: AgentRewardInfo[] = a.rewards.map((r, index) => ({
    index,
    plugin: r.plugin,
    weight: r.weight,
    credit: registry.has(r.plugin) ? (registry.create(r.plugin).credit ?? []) : undefined,
  }));
  try {
    for (const p of kind.kind.check?.(agentConfigOf(a), { numClasses: NUM_CLASSES, rewards }) ?? []) {
      issues.push({ path: `${at}${p.path}`, message: p.hint ? `${p.message} (${p.hint})` : p.message });
    }
  } catch (e) {
    const msg = isFprlError(e) ? e.message : String((e as Error)?.message ?? e);
    issues.push({ path: at, message: `the '${a.kind}' kind's check failed: ${msg}` });
  }
  try {
    trainingOf(config, a);
  } catch (e) {
    issues.push(issueFrom(e, '', `${at}/training`, 'training'));
  }
  if (a.initWeights !== undefined && !kind.policy) {
    issues.push({
      path: `${at}/initWeights`,
      message: `a ${a.kind} agent has no policy network to initialise; remove initWeights`,
    });
  }
  if (a.initWeights !== undefined && a.initFrom !== undefined) {
    issues.push({
      path: `${at}/initWeights`,
      message:
        'give initFrom (another agent of this experiment) or initWeights (an imported folder), not both',
    });
  }
  if (a.initFrom !== undefined) {
    const src = config.agents.find((b) => b.name === a.initFrom);
    const withPolicy = agents
      .list()
      .filter((d) => d.policy)
      .map((d) => d.name)
      .join(', ');
    if (src && agents.has(src.kind) && !agents.get(src.kind).policy) {
      issues.push({
        path: `${at}/initFrom`,
        message: `'${src.name}' is a ${src.kind} agent, which has no policy network to start from; name an agent of a kind with one (${withPolicy})`,
      });
    }
    if (!kind.policy) {
      issues.push({
        path: `${at}/initFrom`,
        message: `a ${a.kind} agent has no policy network to initialise; remove initFrom`,
      });
    }
  }
  checkInitLogitAdjustment(config, a, at, kind.policy, issues);
  const names = new Map<string, number>();
  a.rewards.forEach((r, j) => {
    const rp = `${at}/rewards/${j}`;
    const name = r.name ?? r.plugin;
    if (names.has(name)) {
      issues.push({
        path: `${rp}/${r.name ? 'name' : 'plugin'}`,
        message: `component name '${name}' is already used by ${at}/rewards/${names.get(name)}; give this one a "name"`,
      });
    } else names.set(name, j);
    if (!registry.has(r.plugin)) {
      issues.push({
        path: `${rp}/plugin`,
        message: `unknown reward '${r.plugin}'; registered rewards: ${registry.names().join(', ')} (add your own with "rewardModules")`,
      });
      return;
    }
    const plugin = registry.create(r.plugin);
    const validate = optionsValidator(plugin);
    if (!validate(r.options)) {
      for (const issue of describeAjvErrors(validate.errors, `${rp}/options`)) {
        issues.push({
          path: issue.path,
          message: `${issue.message} (options of reward plugin '${plugin.name}')`,
        });
      }
      return;
    }
    try {
      plugin.check?.(r.options);
    } catch (e) {
      const msg = isFprlError(e) ? `${e.where ? `${e.where}: ` : ''}${e.message}` : String(e);
      issues.push({ path: `${rp}/options`, message: `${msg} (reward plugin '${plugin.name}')` });
    }
  });
}

/** `initLogitAdjustment` needs a policy, a starting point, and class weights to adjust for (one per class). */
function checkInitLogitAdjustment(
  config: ExperimentConfig,
  a: AgentEntry,
  at: string,
  hasPolicy: boolean,
  issues: ConfigIssue[],
): void {
  const adj = a.initLogitAdjustment;
  if (adj === undefined || adj === false) return;
  const field = `${at}/initLogitAdjustment`;
  if (!hasPolicy) {
    issues.push({ path: field, message: `a ${a.kind} agent has no policy network to adjust; remove initLogitAdjustment` });
    return;
  }
  if (a.initFrom === undefined && a.initWeights === undefined) {
    issues.push({ path: field, message: 'there are no starting weights to adjust: give initFrom or initWeights too' });
    return;
  }
  if (adj === true) {
    if (a.initFrom === undefined) {
      issues.push({
        path: field,
        message:
          "true takes the initFrom agent's classWeights, and this agent starts from initWeights: give the class weights those weights were trained with, as an array",
      });
      return;
    }
    const src = config.agents.find((b) => b.name === a.initFrom);
    const w = src ? (src as { classWeights?: unknown }).classWeights : undefined;
    if (src && !Array.isArray(w)) {
      issues.push({
        path: field,
        message: `'${src.name}' was trained without classWeights, so there is nothing to adjust for; remove initLogitAdjustment or give the weights as an array`,
      });
    }
    return;
  }
  if (adj.length !== NUM_CLASSES) {
    issues.push({ path: field, message: `${adj.length} class weights for ${NUM_CLASSES} classes` });
  }
}

/** The agent-config part of an agent entry (what `resolveAgentConfig` and agent factories take). */
export function agentConfigOf(a: AgentEntry): AgentKindConfig {
  const {
    name: _n,
    description: _d,
    rewards: _r,
    initFrom: _i,
    initSeed: _is,
    seeds: _s,
    initWeights: _w,
    initLogitAdjustment: _la,
    training: _t,
    ...cfg
  } = a;
  return cfg;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isPlainObject(v) && isPlainObject(base[k]) ? deepMerge(base[k], v) : v;
  }
  return out;
}

/**
 * An agent's training config: the experiment's `training` with the agent's overrides merged
 * in. An override giving `steps` or `epochs` replaces both (they are alternatives).
 */
export function trainingOf(config: ExperimentConfig, a: AgentEntry): TrainingConfig {
  const base = structuredClone(config.training) as unknown as Record<string, unknown>;
  const over = (a.training ?? {}) as Record<string, unknown>;
  if ('steps' in over || 'epochs' in over) {
    delete base.steps;
    delete base.epochs;
  }
  return resolveTrainingConfig(deepMerge(base, over), 'training');
}

/** An agent's reward components as the env takes them. */
export function rewardSpecsOf(a: AgentEntry): RewardSpec[] {
  return a.rewards.map((r) => ({
    name: r.name ?? r.plugin,
    plugin: r.plugin,
    weight: r.weight,
    options: r.options,
  }));
}

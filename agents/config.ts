/**
 * The agent configuration and its ajv schema fragment (the experiments schema embeds
 * `agentConfigProperties` in its agent entries). Defaults live in the schema: fields that do not
 * apply to a kind are ignored by it (e.g. `baseline` for `supervised`).
 */
import { FprlError } from '../src/errors.js';
import { compileSchema, type SchemaCheck } from '../src/validate.js';

export const AGENT_KINDS = ['supervised', 'reinforce', 'random', 'majority'] as const;
export type AgentKind = (typeof AGENT_KINDS)[number];
export const BASELINES = ['none', 'ema', 'self-critical', 'rloo', 'critic'] as const;
export type BaselineKind = (typeof BASELINES)[number];
export const CREDITS = ['image', 'pixel', 'difference'] as const;
export type CreditKind = (typeof CREDITS)[number];

export interface AgentConfig {
  /** Which learner: cross-entropy, REINFORCE, or a reference agent. */
  kind: AgentKind;
  /** REINFORCE: what is subtracted from the reward (see docs/arch-agents.md). */
  baseline: BaselineKind;
  /** REINFORCE: one advantage per image (`image`) or per pixel from the reward plugin's credit. */
  credit: CreditKind;
  /** REINFORCE: labellings sampled per image (k); `rloo` needs k >= 2. */
  samples: number;
  /** REINFORCE `ema`: decay of the moving average of the reward. */
  emaDecay: number;
  /** Entropy bonus coefficient beta (REINFORCE; also a regulariser for supervised). */
  entropyCoef: number;
  /** `constant`, or `linear` decay from entropyCoef to entropyFinalCoef over training. */
  entropySchedule: 'constant' | 'linear';
  entropyFinalCoef: number;
  /** REINFORCE: standardise advantages over the batch (mean 0, std 1). */
  normalizeAdvantage: boolean;
  /** REINFORCE `critic`: weight of the value head's mean squared error. */
  valueCoef: number;
  /** Clip the global gradient norm (0 = off); absent: the training config's gradClip. */
  gradClip?: number;
  /** Supervised: per-class weights of the cross-entropy (length = number of classes). */
  classWeights?: number[];
  /** Supervised: label smoothing epsilon in [0, 1). */
  labelSmoothing: number;
  /** Label value that counts for nothing (masked out of losses). */
  ignoreIndex: number;
  /** Majority: training batches to count labels over (the trainer's steps if larger). */
  countBatches: number;
}

/** The properties of an agent entry; embed them in a larger schema (experiments add `name`, `rewards`, ...). */
export const agentConfigProperties = {
  kind: { type: 'string', enum: [...AGENT_KINDS] },
  baseline: { type: 'string', enum: [...BASELINES], default: 'rloo' },
  credit: { type: 'string', enum: [...CREDITS], default: 'image' },
  samples: { type: 'integer', minimum: 1, maximum: 64, default: 4 },
  emaDecay: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.9 },
  entropyCoef: { type: 'number', minimum: 0, default: 0.01 },
  entropySchedule: { type: 'string', enum: ['constant', 'linear'], default: 'constant' },
  entropyFinalCoef: { type: 'number', minimum: 0, default: 0 },
  normalizeAdvantage: { type: 'boolean', default: true },
  valueCoef: { type: 'number', minimum: 0, default: 0.5 },
  gradClip: { type: 'number', minimum: 0 },
  classWeights: { type: 'array', items: { type: 'number', minimum: 0 }, minItems: 1 },
  labelSmoothing: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0 },
  ignoreIndex: { type: 'integer', minimum: 0, maximum: 255, default: 255 },
  countBatches: { type: 'integer', minimum: 1, default: 50 },
} as const;

/** JSON schema of {@link AgentConfig} (ajv with `useDefaults`). */
export const agentConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kind'],
  properties: agentConfigProperties,
} as const;

const validateAgent: SchemaCheck<AgentConfig> = compileSchema<AgentConfig>(agentConfigSchema);

/**
 * Validate a (partial) agent config, fill defaults, and check the rules a schema cannot say
 * (rloo needs k >= 2, class weights need one weight per class). `where` prefixes JSON paths.
 */
export function resolveAgentConfig(partial: unknown, where = 'agent', numClasses = 11): AgentConfig {
  const cfg = structuredClone(partial ?? {}) as AgentConfig;
  validateAgent(cfg, where, `kinds: ${AGENT_KINDS.join(', ')}; see docs/arch-agents.md for every field`);
  if (cfg.kind === 'reinforce' && cfg.baseline === 'rloo' && cfg.samples < 2) {
    throw new FprlError(`baseline 'rloo' needs at least 2 samples per image, got ${cfg.samples}`, {
      where: `${where}.samples`,
      hint: 'set samples to 2 or more (4 is a good start), or choose another baseline',
    });
  }
  if (cfg.classWeights && cfg.classWeights.length !== numClasses) {
    throw new FprlError(
      `classWeights has ${cfg.classWeights.length} entries, there are ${numClasses} classes`,
      {
        where: `${where}.classWeights`,
        hint: 'give one weight per class, in class order (background first)',
      },
    );
  }
  return cfg;
}

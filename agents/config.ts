/**
 * The config record of the built-in agent kinds (agents/kind-*.ts): the four share one record and
 * one set of fields, so that saved runs' config.json and agent.json keep their shape; each field
 * says which kinds read it, and a kind ignores the others. A kind of your own declares only its
 * own fields (see agents/define.ts).
 */
import type { AgentCheckContext, AgentProblem } from './define.js';

export const BASELINES = ['none', 'ema', 'self-critical', 'rloo', 'critic'] as const;
export type BaselineKind = (typeof BASELINES)[number];
export const CREDITS = ['image', 'pixel', 'difference'] as const;
export type CreditKind = (typeof CREDITS)[number];

export interface AgentConfig {
  /** Which learner: a registered agent kind (`supervised`, `reinforce`, `random`, `majority`, ...). */
  kind: string;
  /** REINFORCE: what is subtracted from the reward (see docs/ARCHITECTURE.md). */
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

/** The fields of the built-in kinds' config (ajv properties; `kind` and the entry fields are added by the schema). */
export const builtinAgentProperties = {
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

/**
 * The rule of the built-in record that a schema cannot say: class weights need one weight
 * per class.
 */
export function checkBuiltinConfig(cfg: AgentConfig, ctx: AgentCheckContext): AgentProblem[] {
  const problems: AgentProblem[] = [];
  if (cfg.classWeights && cfg.classWeights.length !== ctx.numClasses) {
    problems.push({
      path: '/classWeights',
      message: `classWeights has ${cfg.classWeights.length} entries, there are ${ctx.numClasses} classes`,
      hint: 'give one weight per class, in class order (background first)',
    });
  }
  return problems;
}

/**
 * The training configuration (optimiser, schedule, loop lengths) and its ajv schema.
 * Defaults live in the schema; `resolveTrainingConfig` validates a partial config and fills them.
 * The experiments schema embeds `trainingConfigSchema` as its `training` section.
 */
import { FprlError } from '../core/errors.js';
import { compileSchema, type SchemaCheck } from '../core/validate.js';

export type OptimizerName = 'adam' | 'adamw' | 'sgd';
export type ScheduleName = 'none' | 'warmup' | 'cosine';

export interface OptimizerConfig {
  /** `adam`: L2 weight decay added to the gradient; `adamw`: decoupled weight decay; `sgd`: momentum SGD. */
  name: OptimizerName;
  /** Peak learning rate. */
  lr: number;
  /** Adam moment decay rates [beta1, beta2]. */
  betas: [number, number];
  /** Adam denominator epsilon. */
  eps: number;
  /** Weight decay: L2 for adam and sgd, decoupled (lr * wd * w) for adamw. */
  weightDecay: number;
  /** SGD momentum (0 = plain SGD). */
  momentum: number;
  /** SGD Nesterov momentum. */
  nesterov: boolean;
}

export interface ScheduleConfig {
  /** `none`: constant; `warmup`: linear warm-up then constant; `cosine`: warm-up then cosine decay to minLr. */
  name: ScheduleName;
  /** Steps of linear warm-up from 0 to lr (warmup and cosine). */
  warmupSteps: number;
  /** Final learning rate of the cosine schedule, as a fraction of lr. */
  minLrRatio: number;
}

export interface TrainingConfig {
  /** Number of optimiser steps (one batch each). Give steps or epochs, not both. */
  steps?: number;
  /** Passes over the training set (steps = epochs * ceil(size / batchSize)). */
  epochs?: number;
  /** Images per step (contexts; a REINFORCE agent draws `samples` labellings of each). */
  batchSize: number;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  /** Evaluate on the held-out split every this many steps (0 = only at the end). */
  evalEvery: number;
  /** Images per evaluation batch. */
  evalBatchSize: number;
  /** Evaluate on at most this many held-out images (0 = all). */
  evalLimit: number;
  /** Write a checkpoint every this many steps (0 = only at the end). */
  checkpointEvery: number;
  /** Clip the global gradient norm to this value (0 = off). An agent's own gradClip overrides it. */
  gradClip: number;
  /** Emit `train:step` every this many steps. */
  logEvery: number;
  /**
   * Threads for data-parallel training (src/parallel/): each computes gradients on its share of
   * the batch. Default: `fprl run --threads` or the cores left per concurrent run; 1 elsewhere.
   */
  threads?: number;
}

export const optimizerConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    name: { type: 'string', enum: ['adam', 'adamw', 'sgd'], default: 'adam' },
    lr: { type: 'number', exclusiveMinimum: 0, default: 1e-3 },
    betas: {
      type: 'array',
      items: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
      minItems: 2,
      maxItems: 2,
      default: [0.9, 0.999],
    },
    eps: { type: 'number', exclusiveMinimum: 0, default: 1e-8 },
    weightDecay: { type: 'number', minimum: 0, default: 0 },
    momentum: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.9 },
    nesterov: { type: 'boolean', default: false },
  },
} as const;

export const scheduleConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    name: { type: 'string', enum: ['none', 'warmup', 'cosine'], default: 'none' },
    warmupSteps: { type: 'integer', minimum: 0, default: 0 },
    minLrRatio: { type: 'number', minimum: 0, maximum: 1, default: 0 },
  },
} as const;

/** The one bound on steps, for `training.steps` in configs and `--steps` on the command line. */
export const MIN_STEPS = 1;

/** JSON schema of {@link TrainingConfig} (ajv, `useDefaults`). */
export const trainingConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    steps: {
      type: 'integer',
      minimum: MIN_STEPS,
      description: 'Optimiser steps, one batch each (at least 1: a run that trains nothing is no result).',
    },
    epochs: { type: 'number', exclusiveMinimum: 0 },
    batchSize: { type: 'integer', minimum: 1, default: 8 },
    optimizer: optimizerConfigSchema,
    schedule: scheduleConfigSchema,
    evalEvery: { type: 'integer', minimum: 0, default: 0 },
    evalBatchSize: { type: 'integer', minimum: 1, default: 16 },
    evalLimit: { type: 'integer', minimum: 0, default: 0 },
    checkpointEvery: { type: 'integer', minimum: 0, default: 0 },
    gradClip: { type: 'number', minimum: 0, default: 1 },
    logEvery: { type: 'integer', minimum: 1, default: 1 },
    threads: {
      type: 'integer',
      minimum: 1,
      maximum: 64,
      description:
        'Threads for data-parallel training (each takes a share of the batch; results equal 1 thread up to float summation order). ' +
        'Default: fprl run --threads, else cores / concurrent runs.',
    },
  },
} as const;

const validateTraining: SchemaCheck<TrainingConfig> = compileSchema<TrainingConfig>(trainingConfigSchema);

/**
 * Validate a (partial) training config and fill defaults. Errors list every problem with its
 * JSON path under `where` (default `training`).
 */
export function resolveTrainingConfig(partial: unknown = {}, where = 'training'): TrainingConfig {
  const cfg = structuredClone(partial ?? {}) as TrainingConfig;
  validateTraining(
    cfg,
    where,
    'every field, its default and what it does: experiments/schema.json (docs/ARCHITECTURE.md, "Configuration")',
  );
  if (cfg.steps !== undefined && cfg.epochs !== undefined) {
    throw new FprlError('give either `steps` or `epochs`, not both', {
      where: `${where}.steps`,
      hint: 'remove one of them',
    });
  }
  return cfg;
}

/** Total optimiser steps of a config for a training set of `trainSize` images. */
export function totalSteps(cfg: TrainingConfig, trainSize?: number): number {
  if (cfg.steps !== undefined) return cfg.steps;
  if (cfg.epochs !== undefined) {
    if (!trainSize) {
      throw new FprlError('epochs need the size of the training set', {
        where: 'training.epochs',
        hint: 'give `steps` instead, or a dataset with a known length',
      });
    }
    return Math.ceil(cfg.epochs * Math.ceil(trainSize / cfg.batchSize));
  }
  return 100;
}

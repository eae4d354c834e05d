/**
 * face-parsing-rl: the public API of the package. Face parsing as a per-pixel contextual
 * bandit: environments, reward plugins, agents (supervised, REINFORCE, references), the Face
 * Transformer, data, metrics, training, sinks, reports and the experiment runner.
 *
 * ```ts
 * import { defineReward, rewardRegistry, runSweep } from 'face-parsing-rl';
 * rewardRegistry.register(defineReward({ name: 'my-reward', ... }));
 * await runSweep({ experiment: 'experiments/quickstart.json', print: console.log });
 * ```
 * Extend the bus with your own events by declaration merging:
 * `declare module 'face-parsing-rl' { interface BusEvents { 'my:event': { x: number } } }`.
 */
export * from './core/types.js';
export { EventBus, type BusEvents, type BusEvent, type BusEventType } from './core/bus.js';
export { Rng, type RngState } from './core/rng.js';
export { Registry, type RegistryEntry } from './core/registry.js';
export { FprlError, isFprlError } from './core/errors.js';
export * from './core/classes.js';
export * from './core/spaces.js';
export {
  initBackend,
  backendInfo,
  describeBackend,
  BACKEND_CHOICES,
  BACKEND_ENV_VAR,
  type BackendInfo,
  type BackendChoice,
} from './backend/backend.js';

export * from '../rewards/index.js';
export * from '../envs/index.js';
export * from '../agents/index.js';
export * from '../agents/vit/index.js';
export * from './data/index.js';
export * from './metrics/index.js';
export { train, type TrainOptions, type TrainResult, type StatefulEnv } from './train/trainer.js';
export {
  evaluate,
  evaluationMetrics,
  type EvaluateOptions,
  type EvaluationResult,
  type Picture,
} from './train/evaluate.js';
export {
  resolveTrainingConfig,
  trainingConfigSchema,
  totalSteps,
  type TrainingConfig,
  type OptimizerConfig,
  type ScheduleConfig,
} from './optim/config.js';
export {
  writeCheckpoint,
  loadCheckpoint,
  readCheckpointMeta,
  hasCheckpoint,
  initFromCheckpoint,
  type CheckpointMeta,
  type TrainerState,
} from './train/checkpoint.js';
export {
  importWeights,
  exportWeights,
  initFromImported,
  torchStateDict,
  type ImportOptions,
  type ImportSummary,
  type ExportFormat,
} from './train/interop.js';
export {
  openWeightFile,
  readSafetensors,
  writeSafetensors,
  readTorchFile,
  type WeightFile,
  type StoredTensor,
} from './interop/index.js';
export * from './sinks/index.js';
export * from './report/index.js';
export * from './experiment/index.js';

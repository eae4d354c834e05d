/** Data-parallel training on several threads (see pool.ts). */
import os from 'node:os';

export { DataParallel, shardRanges, type DataParallelOptions } from './pool.js';
export {
  pixelLoss,
  shardLoss,
  shardSpec,
  forwardShard,
  type LossSpec,
  type LossResult,
  type ValueTerm,
  type HeadVariables,
  type ForwardMode,
  type ForwardOptions,
} from './loss.js';
export { policySpecOf, buildPolicy, type PolicySpec } from './spec.js';

/** Threads per run that do not oversubscribe the cores when `processes` runs train at once. */
export function defaultThreads(processes: number, cores = os.availableParallelism()): number {
  return Math.max(1, Math.floor(cores / Math.max(1, processes)));
}

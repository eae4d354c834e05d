/** Data-parallel training on several threads (see pool.ts). */
import os from 'node:os';
import { threadsForFree } from './cores.js';

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
export { sampleFreeCores, threadsForFree, describeFreeCores, type FreeCores } from './cores.js';

/**
 * Threads per run that do not oversubscribe the cores when `processes` runs train at once, counting
 * only the `free` cores (default: all; see cores.ts) so that a default never loses to one thread on
 * a machine another job is using.
 */
export function defaultThreads(processes: number, cores = os.availableParallelism(), free = cores): number {
  return threadsForFree(free, processes, cores);
}

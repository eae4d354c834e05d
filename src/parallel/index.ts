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

/** `FPRL_THREADS`: threads per training run asked for explicitly (`fprl run --threads`); beats the config. */
export const THREADS_ENV_VAR = 'FPRL_THREADS';
/** `FPRL_THREADS_DEFAULT`: the default when neither the config nor FPRL_THREADS says (set by `fprl run`). */
export const THREADS_DEFAULT_ENV_VAR = 'FPRL_THREADS_DEFAULT';

/** Threads per run that do not oversubscribe the cores when `processes` runs train at once. */
export function defaultThreads(processes: number, cores = os.availableParallelism()): number {
  return Math.max(1, Math.floor(cores / Math.max(1, processes)));
}

function envThreads(name: string, env: NodeJS.ProcessEnv): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got '${raw}'`);
  return n;
}

/**
 * Threads for one training run: FPRL_THREADS (explicit), else the config's `training.threads`,
 * else FPRL_THREADS_DEFAULT, else 1. `explicit` says whether the user asked (errors vs fallbacks).
 */
export function resolveThreads(
  configured: number | undefined,
  env: NodeJS.ProcessEnv = process.env,
): { threads: number; explicit: boolean } {
  const forced = envThreads(THREADS_ENV_VAR, env);
  if (forced !== undefined) return { threads: forced, explicit: true };
  if (configured !== undefined) return { threads: configured, explicit: true };
  return { threads: envThreads(THREADS_DEFAULT_ENV_VAR, env) ?? 1, explicit: false };
}

/**
 * The trainer's hook: start a data-parallel pool for an agent that learns with a policy network,
 * attach it, and hand back the function that detaches and stops it.
 */
import type { Agent } from '../core/types.js';
import { PolicyAgent } from '../../agents/policy-agent.js';
import { DataParallel } from '../parallel/pool.js';
import { policySpecOf } from '../parallel/spec.js';

/**
 * A thread count that is only a default applies from this many pixels per step (batch x H x W,
 * e.g. 8 images of 128 px). Below, messaging and the workers' start cost more than the split
 * saves (measured: the quickstart, 8 images of 32 px, trains 2.5 s per run on one thread and
 * 3.2 s on two); an explicit thread count is always honoured.
 */
export const MIN_DEFAULT_PARALLEL_PIXELS = 8 * 128 * 128;

/**
 * The thread count a caller chose for training runs: `forced` (`fprl run --threads`, or the
 * FPRL_THREADS override the CLI reads) beats a config's `training.threads`; `fallback` applies
 * when neither says (`fprl run`: the cores left per concurrent run). Passed down as an argument:
 * the library never reads the environment for it.
 */
export interface ThreadChoice {
  forced?: number;
  fallback: number;
}

/** One thread unless asked: what in-process callers (tests, the library) get by default. */
export const ONE_THREAD: ThreadChoice = { fallback: 1 };

/** Threads for one run: forced, else the config's, else the fallback; `explicit` when the user asked. */
export function threadsFor(
  configured: number | undefined,
  choice: ThreadChoice = ONE_THREAD,
): { threads: number; explicit: boolean } {
  if (choice.forced !== undefined) return { threads: choice.forced, explicit: true };
  if (configured !== undefined) return { threads: configured, explicit: true };
  return { threads: choice.fallback, explicit: false };
}

/**
 * Attach a pool of `threads` (from `configured` and `choice`, see {@link threadsFor}) to `agent`. Returns undefined when one thread is all it gets: threads 1, an agent
 * without a policy network, or (when the thread count was only a default) a policy the workers
 * cannot rebuild or steps of fewer than {@link MIN_DEFAULT_PARALLEL_PIXELS} pixels.
 */
export async function attachParallel(
  agent: Agent,
  configured: number | undefined,
  pixelsPerStep = 1,
  choice: ThreadChoice = ONE_THREAD,
): Promise<{ threads: number; detach: () => Promise<void> } | undefined> {
  const { threads, explicit } = threadsFor(configured, choice);
  if (threads <= 1 || !(agent instanceof PolicyAgent)) return undefined;
  if (!explicit) {
    try {
      policySpecOf(agent.policy);
    } catch {
      return undefined; // a policy the workers cannot rebuild trains on one thread unless asked
    }
    if (pixelsPerStep < MIN_DEFAULT_PARALLEL_PIXELS) return undefined;
  }
  const pool = await DataParallel.create(agent.policy, threads);
  try {
    agent.useParallel(pool);
  } catch (e) {
    await pool.dispose();
    throw e;
  }
  return {
    threads,
    detach: async () => {
      agent.useParallel(undefined);
      await pool.dispose();
    },
  };
}

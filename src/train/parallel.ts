/**
 * The trainer's hook: start a data-parallel pool for an agent that learns with a policy network,
 * attach it, and hand back the function that detaches and stops it.
 */
import type { Agent } from '../types.js';
import { PolicyAgent } from '../../agents/policy-agent.js';
import { DataParallel } from '../parallel/pool.js';
import { resolveThreads } from '../parallel/index.js';
import { policySpecOf } from '../parallel/spec.js';

/**
 * A thread count that is only a default applies from this many pixels per step (batch x H x W,
 * e.g. 8 images of 128 px). Below, messaging and the workers' start cost more than the split
 * saves (measured: the quickstart, 8 images of 32 px, trains 2.5 s per run on one thread and
 * 3.2 s on two); an explicit thread count is always honoured.
 */
export const MIN_DEFAULT_PARALLEL_PIXELS = 8 * 128 * 128;

/**
 * Attach a pool of `threads` (resolved by {@link resolveThreads} from `configured` and the
 * environment) to `agent`. Returns undefined when one thread is all it gets: threads 1, an agent
 * without a policy network, or (when the thread count was only a default) a policy the workers
 * cannot rebuild or steps of fewer than {@link MIN_DEFAULT_PARALLEL_PIXELS} pixels.
 */
export async function attachParallel(
  agent: Agent,
  configured: number | undefined,
  pixelsPerStep = 1,
): Promise<{ threads: number; detach: () => Promise<void> } | undefined> {
  const { threads, explicit } = resolveThreads(configured);
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

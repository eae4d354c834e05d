/**
 * The trainer's hook: start a data-parallel pool for an agent that learns with a policy network,
 * attach it, and hand back the function that detaches and stops it.
 */
import type { Agent } from '../types.js';
import { PolicyAgent } from '../../agents/policy-agent.js';
import { DataParallel } from './pool.js';
import { resolveThreads } from './index.js';

/**
 * Attach a pool of `threads` (resolved by {@link resolveThreads} from `configured` and the
 * environment) to `agent`. Returns undefined when one thread is all it gets: threads 1, an agent
 * without a policy network, or (when the thread count was only a default) an agent that cannot
 * learn data-parallel. An explicit request such an agent cannot honour is an FprlError.
 */
export async function attachParallel(
  agent: Agent,
  configured: number | undefined,
): Promise<{ threads: number; detach: () => Promise<void> } | undefined> {
  const { threads, explicit } = resolveThreads(configured);
  if (threads <= 1 || !(agent instanceof PolicyAgent)) return undefined;
  if (!explicit && agent.parallelUnsupported()) return undefined;
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

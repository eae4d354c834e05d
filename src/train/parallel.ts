/**
 * The trainer's hook: start a data-parallel pool for an agent that learns with a policy network,
 * attach it, and hand back the function that detaches and stops it.
 */
import type { Agent } from '../core/types.js';
import { PolicyAgent } from '../../agents/policy-agent.js';
import { DataParallel } from '../parallel/pool.js';
import { policySpecOf } from '../parallel/spec.js';
import { ThreadTuner, type TunerSwitch } from '../parallel/tune.js';

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
  /**
   * When the fallback applies and this is above 1: the run's pool gets this many shards (the
   * cores per concurrent run), starts with `fallback` of them computing in parallel, and a
   * ThreadTuner moves that count by measured step time (src/parallel/tune.ts). The shards fix
   * the arithmetic, so the result does not depend on the load; absent: `fallback` threads, fixed.
   */
  adaptUpTo?: number;
}

/** One thread unless asked: what in-process callers (tests, the library) get by default. */
export const ONE_THREAD: ThreadChoice = { fallback: 1 };

/**
 * Threads for one run: forced, else the config's, else the fallback; `explicit` when the user
 * asked. `threads` is the pool's size (its shards), `start` how many compute at first, and
 * `adaptive` whether a tuner may change that (only for a default with `adaptUpTo`).
 */
export function threadsFor(
  configured: number | undefined,
  choice: ThreadChoice = ONE_THREAD,
): { threads: number; start: number; explicit: boolean; adaptive: boolean } {
  if (choice.forced !== undefined) {
    return { threads: choice.forced, start: choice.forced, explicit: true, adaptive: false };
  }
  if (configured !== undefined) return { threads: configured, start: configured, explicit: true, adaptive: false };
  const up = choice.adaptUpTo ?? 1;
  if (up > 1) return { threads: up, start: Math.min(up, Math.max(1, choice.fallback)), explicit: false, adaptive: true };
  return { threads: choice.fallback, start: choice.fallback, explicit: false, adaptive: false };
}

/** A pool attached to an agent for a training loop. */
export interface AttachedPool {
  /** The pool's threads (its shards). */
  threads: number;
  /** Threads computing now. */
  active: () => number;
  /** Tell the pool how long the last step took (adaptive pools move their active count). */
  stepDone: (ms: number) => void;
  /** The adaptive pool's changes so far (empty for a fixed one). */
  switches: () => readonly TunerSwitch[];
  detach: () => Promise<void>;
}

/**
 * Attach a pool of `threads` (from `configured` and `choice`, see {@link threadsFor}) to `agent`.
 * Returns undefined when one thread is all it gets: threads 1, an agent without a policy
 * network, or (when the thread count was only a default) a policy the workers cannot rebuild or
 * steps of fewer than {@link MIN_DEFAULT_PARALLEL_PIXELS} pixels. An adaptive default starts
 * with `start` threads computing and lets a ThreadTuner move the count after each step.
 */
export async function attachParallel(
  agent: Agent,
  configured: number | undefined,
  pixelsPerStep = 1,
  choice: ThreadChoice = ONE_THREAD,
): Promise<AttachedPool | undefined> {
  const { threads, start, explicit, adaptive } = threadsFor(configured, choice);
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
  pool.setActive(start);
  const tuner = adaptive ? new ThreadTuner({ max: threads, start }) : undefined;
  return {
    threads,
    active: () => pool.active,
    stepDone: (ms) => {
      if (tuner) pool.setActive(tuner.record(ms));
    },
    switches: () => tuner?.switches ?? [],
    detach: async () => {
      agent.useParallel(undefined);
      await pool.dispose();
    },
  };
}

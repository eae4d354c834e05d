/**
 * Runs a planned sweep on a set of executors (one in-process, or one per worker process).
 * A run starts once the run it fine-tunes from has finished; ready runs are taken in plan
 * order. A run whose source failed is not started: it is reported failed with the reason.
 * Each run is seeded from its own (seed, agent), so the numbers do not depend on the order
 * or on how runs share processes.
 */
import type { RunSpec } from './plan.js';

export type RunStatus = 'ok' | 'failed';

export interface RunOutcome {
  status: RunStatus;
  error?: string;
  /** The run stopped on request at this checkpoint step, unfinished (no result.json): see RunHooks.stop. */
  stoppedAt?: number;
}

/** Something that can carry out one run at a time (the in-process runner, a worker process). */
export interface Executor {
  execute(run: RunSpec): Promise<RunOutcome>;
}

export interface ScheduleHooks {
  /** The outcome of a run finished in an earlier sweep, or undefined to run it. */
  previous?(run: RunSpec): RunOutcome | undefined;
  /** A run whose source failed is skipped with this outcome (the caller records it). */
  onSkipped?(run: RunSpec, outcome: RunOutcome): Promise<void> | void;
  onFinished?(run: RunSpec, outcome: RunOutcome): void;
}

/** Execute every run; resolves with each run's outcome (by run id) once all are settled. */
export async function schedule(
  runs: readonly RunSpec[],
  executors: readonly Executor[],
  hooks: ScheduleHooks = {},
): Promise<Map<string, RunOutcome>> {
  if (executors.length === 0) throw new Error('schedule: no executors');
  const outcomes = new Map<string, RunOutcome>();
  for (const r of runs) {
    const prev = hooks.previous?.(r);
    if (prev) outcomes.set(r.id, prev);
  }
  const pending = runs.filter((r) => !outcomes.has(r.id));
  const running = new Set<string>();

  // Settle runs whose source failed, transitively, before anything waits on them.
  const skipBlocked = async (): Promise<void> => {
    let changed = true;
    while (changed) {
      changed = false;
      for (let i = 0; i < pending.length; i++) {
        const r = pending[i];
        const src = r.initFrom === undefined ? undefined : outcomes.get(r.initFrom);
        if (src && src.status !== 'ok') {
          const outcome: RunOutcome = {
            status: 'failed',
            error: `not run: its initFrom source ${r.initFrom} failed${src.error ? ` (${src.error})` : ''}`,
          };
          pending.splice(i--, 1);
          outcomes.set(r.id, outcome);
          await hooks.onSkipped?.(r, outcome);
          hooks.onFinished?.(r, outcome);
          changed = true;
        }
      }
    }
  };

  const nextReady = (): RunSpec | undefined => {
    const i = pending.findIndex((r) => r.initFrom === undefined || outcomes.get(r.initFrom)?.status === 'ok');
    return i < 0 ? undefined : pending.splice(i, 1)[0];
  };

  let wake: (() => void) | undefined;
  const changedSignal = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  const loop = async (executor: Executor): Promise<void> => {
    for (;;) {
      await skipBlocked();
      const run = nextReady();
      if (!run) {
        if (pending.length === 0) return;
        if (running.size === 0) {
          // Sources outside the plan (not run, not finished): nothing can make progress.
          for (const r of pending.splice(0)) {
            const outcome: RunOutcome = {
              status: 'failed',
              error: `not run: its initFrom source ${r.initFrom} never ran`,
            };
            outcomes.set(r.id, outcome);
            await hooks.onSkipped?.(r, outcome);
            hooks.onFinished?.(r, outcome);
          }
          changedSignal();
          return;
        }
        await new Promise<void>((resolve) => {
          const prev = wake;
          wake = () => {
            prev?.();
            resolve();
          };
        });
        continue;
      }
      running.add(run.id);
      let outcome: RunOutcome;
      try {
        outcome = await executor.execute(run);
      } catch (e) {
        outcome = { status: 'failed', error: (e as Error)?.message ?? String(e) };
      }
      running.delete(run.id);
      outcomes.set(run.id, outcome);
      hooks.onFinished?.(run, outcome);
      changedSignal();
    }
  };

  await Promise.all(executors.map(loop));
  return outcomes;
}

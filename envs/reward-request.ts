import { Subscription, filter } from 'rxjs';
import type { BusEvents, EventBus } from '../src/core/bus.js';
import { FprlError } from '../src/core/errors.js';

/** One component's answer to a request. */
export interface ComponentAnswer {
  values: Float32Array;
  pixel?: Float32Array;
}

let lastRequestId = 0;

/** Request ids are unique in the process, so envs may share one bus. */
export function nextRequestId(): number {
  return ++lastRequestId;
}

/**
 * Publish an `env:action` and wait for every expected component's `reward` event. The first
 * `reward:error` (a plugin that threw or answered a bad value, see rewards/answer-check.ts) or
 * silence past `timeoutMs` rejects, naming the component(s); the listeners are removed on every
 * outcome and late answers are ignored.
 * The listeners themselves never throw (RxJS would rethrow asynchronously and crash the
 * process): every failure is routed to the returned Promise.
 */
export function requestRewards(
  bus: EventBus,
  event: BusEvents['env:action'],
  expected: readonly { name: string; plugin: string }[],
  timeoutMs: number,
): Promise<Map<string, ComponentAnswer>> {
  return new Promise((resolve, reject) => {
    const answers = new Map<string, ComponentAnswer>();
    const wanted = new Map(expected.map((c) => [c.name, c.plugin]));
    const subs = new Subscription();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let settled = false;
    const finish = (error?: unknown) => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      subs.unsubscribe();
      if (error === undefined) resolve(answers);
      else reject(error);
    };
    subs.add(
      bus
        .on('reward')
        .pipe(filter((r) => r.requestId === event.requestId))
        .subscribe((r) => {
          // Answers from listeners the env did not configure (e.g. a logger echoing) are not ours.
          // Their values and credit were checked where the plugin is known (rewards/answer-check.ts).
          if (!wanted.has(r.component) || answers.has(r.component)) return;
          answers.set(r.component, { values: r.values, pixel: r.pixel });
          if (answers.size === wanted.size) finish();
        }),
    );
    subs.add(
      bus
        .on('reward:error')
        .pipe(filter((r) => r.requestId === event.requestId))
        .subscribe((r) => {
          if (wanted.has(r.component)) finish(r.error);
        }),
    );
    if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
      timer = setTimeout(() => {
        const silent = [...wanted].filter(([name]) => !answers.has(name));
        finish(
          new FprlError(`no answer within ${timeoutMs} ms`, {
            where: silent
              .map(([name, plugin]) => `reward component '${name}' (plugin '${plugin}')`)
              .join(', '),
            hint: 'the reward is hung or too slow; raise rewardTimeoutMs if it is just slow',
          }),
        );
      }, timeoutMs);
    }
    // Synchronous plugins answer inside emit(): the listeners above are already in place.
    bus.emit('env:action', event);
  });
}

import { firstValueFrom, isObservable, type Observable } from 'rxjs';

/** A reward answer: a number now, a Promise, or an Observable whose first value counts. */
export type RewardAnswer = number | PromiseLike<number> | Observable<number>;

/** The answer as a number when it is one already (no microtask), else as a Promise. */
export function settle(answer: RewardAnswer): number | Promise<number> {
  if (typeof answer === 'number') return answer;
  if (isObservable(answer)) return firstValueFrom(answer);
  if (answer && typeof (answer as PromiseLike<number>).then === 'function') return Promise.resolve(answer);
  return answer as unknown as number; // not a number: the caller's checks name the plugin
}

/** Resolve a list of answers, awaiting only when one of them is asynchronous. */
export function settleAll(answers: RewardAnswer[]): number[] | Promise<number[]> {
  const settled = answers.map(settle);
  return settled.some((v) => v instanceof Promise) ? Promise.all(settled) : (settled as number[]);
}

/** Tolerance of range checks, so a mean of scores in [0,1] that rounds to 1 + 1e-16 passes. */
export function inRange(v: number, [lo, hi]: readonly [number, number]): boolean {
  const eps = 1e-9 * Math.max(1, Math.abs(lo), Math.abs(hi));
  return v >= lo - eps && v <= hi + eps;
}

export function describeValue(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (v === undefined) return 'undefined';
  return `${typeof v} ${JSON.stringify(v)?.slice(0, 40) ?? ''}`.trim();
}

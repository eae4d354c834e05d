import { firstValueFrom, isObservable, type Observable } from 'rxjs';

/** A reward answer: a number now, a Promise, or an Observable whose first value counts. */
export type RewardAnswer = number | PromiseLike<number> | Observable<number>;

/** The answer as a number when it is one already (no microtask), else as a Promise. */
export function settle(answer: RewardAnswer): number | Promise<number> {
  if (typeof answer === 'number') return answer;
  if (isObservable(answer)) return firstValueFrom(answer);
  if (answer && typeof (answer as PromiseLike<number>).then === 'function') return Promise.resolve(answer);
  return answer as unknown as number; // not a number: answer-check.ts names the plugin
}

/** Resolve a list of answers, awaiting only when one of them is asynchronous. */
export function settleAll(answers: RewardAnswer[]): number[] | Promise<number[]> {
  const settled = answers.map(settle);
  return settled.some((v) => v instanceof Promise) ? Promise.all(settled) : (settled as number[]);
}

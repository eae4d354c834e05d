import { FprlError } from '../src/core/errors.js';

/**
 * The one check of what a reward plugin answers, made where the plugin is known (the bus adapter
 * attach.ts, and composite.ts for its parts), so every error names the component or part, its
 * plugin and the image. The env (envs/reward-request.ts) takes the answers on the bus as checked.
 */

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

/**
 * `v` when it is a number inside `range`; else an FprlError naming `where` (the component or
 * part) and `at` (the image). An infinite value inside an unbounded range passes: the trainer
 * stops the run on it, naming the agent and the step (src/train).
 */
export function checkValue(v: unknown, range: readonly [number, number], where: string, at: string): number {
  if (typeof v !== 'number' || Number.isNaN(v)) {
    throw new FprlError(`returned ${describeValue(v)} for ${at}, not a number`, {
      where,
      hint: 'compute must return a number (guard 0/0 cases explicitly)',
    });
  }
  if (!inRange(v, range)) {
    throw new FprlError(`returned ${v} for ${at}, outside its declared range [${range[0]}, ${range[1]}]`, {
      where,
      hint: 'fix the computation or declare the true range in the plugin',
    });
  }
  return v;
}

/** `credit` when it is a Float32Array of one value per pixel (`pixels`); else an FprlError naming `where`. */
export function checkCredit(credit: unknown, pixels: number, where: string): Float32Array {
  if (!(credit instanceof Float32Array) || credit.length !== pixels) {
    const got = (credit as { length?: unknown } | undefined)?.length;
    throw new FprlError(
      `pixelCredit returned ${typeof got === 'number' ? got : 'no'} values for an image of ${pixels} pixels`,
      { where, hint: 'return a Float32Array of H*W values' },
    );
  }
  return credit;
}

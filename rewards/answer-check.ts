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
 * `v` when it is a finite number inside `range`; else an FprlError naming `where` (the component
 * or part, with its plugin) and `at` (the image). NaN and +-Infinity are refused here even inside
 * an unbounded range, so a non-finite answer is blamed on the plugin that gave it, not on the
 * agent that trains on it (the trainer's own finiteness check stays for sums that overflow).
 */
export function checkValue(v: unknown, range: readonly [number, number], where: string, at: string): number {
  if (typeof v !== 'number' || Number.isNaN(v)) {
    throw new FprlError(`returned ${describeValue(v)} for ${at}, not a number`, {
      where,
      hint: 'compute must return a number (guard 0/0 cases explicitly)',
    });
  }
  if (!Number.isFinite(v)) {
    throw new FprlError(`returned ${v} for ${at}, not a finite number`, {
      where,
      hint: 'compute must return a finite number (guard divisions by zero and logs of 0)',
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

/**
 * `credit` when it is a Float32Array of one finite value per pixel (`pixels`); else an FprlError
 * naming `where` and `at` (the image) and, for a non-finite value, the first bad pixel.
 */
export function checkCredit(credit: unknown, pixels: number, where: string, at = 'this image'): Float32Array {
  if (!(credit instanceof Float32Array) || credit.length !== pixels) {
    const got = (credit as { length?: unknown } | undefined)?.length;
    throw new FprlError(
      `pixelCredit returned ${typeof got === 'number' ? got : 'no'} values for ${at} of ${pixels} pixels`,
      { where, hint: 'return a Float32Array of H*W values' },
    );
  }
  for (let p = 0; p < credit.length; p++) {
    if (!Number.isFinite(credit[p])) {
      let bad = 0;
      for (let q = p; q < credit.length; q++) if (!Number.isFinite(credit[q])) bad++;
      throw new FprlError(
        `pixelCredit returned ${credit[p]} at pixel ${p} of ${at} (${bad} of ${pixels} values not finite)`,
        { where, hint: 'pixel credit must be finite (guard 0/0 cases, e.g. classes absent from both maps)' },
      );
    }
  }
  return credit;
}

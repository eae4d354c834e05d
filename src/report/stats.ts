/**
 * Statistics over seeds. With 3-5 seeds a normal approximation is badly overconfident, so
 * intervals use Student's t, and comparisons between agents use Welch's t-test (no
 * equal-variance assumption: a deterministic floor like `majority` has zero variance).
 *
 * Where a quantity is undefined (n = 1, or zero variance on both sides of a test) it is
 * `null` with a `note` saying why, never a made-up number.
 */
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';

/** Mean, spread and confidence interval of one metric over seeds. */
export interface Estimate {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1); null when n < 2. */
  std: number | null;
  /** Half-width of the confidence interval; null when n < 2. */
  halfWidth: number | null;
  ci: [number, number] | null;
  /** The values, in the order given (seed order). */
  values: number[];
  /** The seed of each value, when the estimate is over seeds (summary.json). */
  seeds?: number[];
  note?: string;
}

/** Welch's comparison of two groups: a - b. */
export interface Difference {
  diff: number;
  ci: [number, number] | null;
  pValue: number | null;
  /** Welch-Satterthwaite degrees of freedom. */
  df: number | null;
  t: number | null;
  nA: number;
  nB: number;
  note?: string;
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample variance (divides by n - 1); null when n < 2. */
export function sampleVariance(xs: readonly number[]): number | null {
  if (xs.length < 2) return null;
  // Identical values (a deterministic agent) must give exactly 0, not rounding noise from the mean.
  if (xs.every((x) => x === xs[0])) return 0;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return s / (xs.length - 1);
}

export function sampleStd(xs: readonly number[]): number | null {
  const v = sampleVariance(xs);
  return v === null ? null : Math.sqrt(v);
}

/** Two-sided Student t critical value, e.g. t(0.975, df) for a 95% interval. */
export function tCritical(level: number, df: number): number {
  return tQuantile(1 - (1 - level) / 2, df);
}

/** mean ± t(1 - alpha/2, n - 1) * s / sqrt(n). */
export function estimate(values: readonly number[], level = 0.95): Estimate {
  const n = values.length;
  const m = mean(values);
  const std = sampleStd(values);
  if (n === 0) return { n, mean: NaN, std: null, halfWidth: null, ci: null, values: [], note: 'no values' };
  if (std === null) {
    return {
      n,
      mean: m,
      std: null,
      halfWidth: null,
      ci: null,
      values: [...values],
      note: 'one seed: no interval',
    };
  }
  const halfWidth = tCritical(level, n - 1) * (std / Math.sqrt(n));
  const est: Estimate = {
    n,
    mean: m,
    std,
    halfWidth,
    ci: [m - halfWidth, m + halfWidth],
    values: [...values],
  };
  if (std === 0) est.note = 'identical across seeds';
  return est;
}

/**
 * Welch's t-test of mean(a) - mean(b): two-sided p-value and the confidence interval of
 * the difference with Welch-Satterthwaite degrees of freedom.
 */
export function welch(a: readonly number[], b: readonly number[], level = 0.95): Difference {
  const diff = mean(a) - mean(b);
  const base = { diff, nA: a.length, nB: b.length };
  const va = sampleVariance(a);
  const vb = sampleVariance(b);
  if (va === null || vb === null) {
    return {
      ...base,
      ci: null,
      pValue: null,
      df: null,
      t: null,
      note: 'needs at least 2 seeds on each side',
    };
  }
  const qa = va / a.length;
  const qb = vb / b.length;
  const se2 = qa + qb;
  if (se2 === 0) {
    return {
      ...base,
      ci: [diff, diff],
      pValue: null,
      df: null,
      t: null,
      note: 'no variance on either side: the difference is exact, a test is meaningless',
    };
  }
  const se = Math.sqrt(se2);
  const df = (se2 * se2) / ((qa * qa) / (a.length - 1) + (qb * qb) / (b.length - 1));
  const t = diff / se;
  // 2 * P(T <= -|t|) keeps precision for tiny p-values (1 - cdf would round to 0).
  const pValue = Math.min(1, 2 * tCdf(-Math.abs(t), df));
  const h = tCritical(level, df) * se;
  return { ...base, ci: [diff - h, diff + h], pValue, df, t };
}

/**
 * Paired t-test of a - b over matched pairs (the same seed gives both agents the same
 * initial weights and batches, so seed-to-seed luck cancels in the difference). Needs at
 * least 2 pairs; identical differences give an exact difference and no p-value.
 */
export function pairedT(a: readonly number[], b: readonly number[], level = 0.95): Difference {
  if (a.length !== b.length) throw new RangeError(`pairedT: ${a.length} vs ${b.length} values`);
  const d = a.map((x, i) => x - b[i]);
  const e = estimate(d, level);
  const base = { diff: e.mean, nA: a.length, nB: b.length };
  if (e.std === null)
    return { ...base, ci: null, pValue: null, df: null, t: null, note: 'needs at least 2 paired seeds' };
  if (e.std === 0) {
    return { ...base, ci: e.ci, pValue: null, df: null, t: null, note: 'the same difference on every seed' };
  }
  const df = d.length - 1;
  const t = e.mean / (e.std / Math.sqrt(d.length));
  return { ...base, ci: e.ci, pValue: Math.min(1, 2 * tCdf(-Math.abs(t), df)), df, t };
}

/**
 * Holm-Bonferroni adjusted p-values (same order as given; nulls stay null). Controls the
 * family-wise error when many agent pairs are compared at once.
 */
export function holm(pValues: readonly (number | null)[]): (number | null)[] {
  const idx = pValues
    .map((p, i) => [p, i] as const)
    .filter((x): x is readonly [number, number] => x[0] !== null);
  idx.sort((x, y) => x[0] - y[0]);
  const m = idx.length;
  const out: (number | null)[] = pValues.map(() => null);
  let running = 0;
  idx.forEach(([p, i], rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    out[i] = running;
  });
  return out;
}

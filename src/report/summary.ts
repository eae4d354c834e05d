/**
 * The numbers of a sweep, reduced over seeds: per agent the mean and confidence interval of
 * every final metric and of the per-class F1 (classes as columns, as the LaPa papers print
 * them), learning curves averaged over seeds, and pairwise Welch comparisons between agents
 * on the main metrics. Pure and deterministic: the same runs give the same summary.json.
 */
import { CLASS_NAMES } from '../core/classes.js';
import { type Difference, type Estimate, estimate, holm, pairedT, welch } from './stats.js';
import type { Resolution, RunResult } from './types.js';

/** One point of a curve averaged over seeds. */
export interface CurvePoint {
  step: number;
  /** Seeds that have this point. */
  n: number;
  mean: number;
  std: number | null;
  min: number;
  max: number;
}

export interface AgentSummary {
  agent: string;
  /** Seeds that finished with a final evaluation, ascending. */
  seeds: number[];
  /** Seeds whose run failed (or finished without a final evaluation), ascending. */
  failedSeeds: number[];
  wallSeconds: Estimate;
  /** Final metrics over seeds (meanF1, mIoU, ...). */
  metrics: Record<string, Estimate>;
  /** Final F1 of each class over seeds. */
  perClassF1: Record<string, Estimate>;
  /** Evaluation curves by metric: mean and spread over seeds at each evaluated step. */
  curves: Record<string, CurvePoint[]>;
  /** Training scalars by name, binned to at most `trainPoints` steps, over seeds. */
  train: Record<string, CurvePoint[]>;
  /**
   * The final metrics at the model's input size (height x width) over the seeds that have them:
   * present when `metrics` are at native resolution and some label's own size differs from it.
   */
  modelSize?: { height: number; width: number; metrics: Record<string, Estimate> };
}

/**
 * Welch comparison `a - b` of one metric; `pHolm` adjusts over all pairs of that metric.
 * `paired` is the paired t-test over the seeds both agents finished (a seed gives every
 * agent the same initial weights and batches), null when fewer than 2 seeds are shared.
 */
export interface Comparison extends Difference {
  metric: string;
  a: string;
  b: string;
  pHolm: number | null;
  paired: (Difference & { seeds: number[] }) | null;
}

export interface Summary {
  version: 1;
  experiment: string;
  confidenceLevel: number;
  /** Metrics compared between agents; the first is the headline. */
  mainMetrics: string[];
  /** Every final metric: the main ones first, then alphabetical. */
  metrics: string[];
  /**
   * Where the final metrics were counted: 'native' at each label's own size (the LaPa protocol),
   * 'model' at the model's input size, 'mixed' when runs differ (a note says which). Learning
   * curves are always at the model's size.
   */
  resolution: Resolution | 'mixed';
  /** Whether the final evaluations used flip test-time augmentation: all runs, none, or some (a note says which). */
  flip: boolean | 'mixed';
  /** Whether the final evaluations added -log(class weights) to the logits: all runs, none, or some (a note says which). */
  logitAdjusted: boolean | 'mixed';
  /** Per-class table columns: LaPa class order, then any others alphabetical. */
  classes: string[];
  agents: AgentSummary[];
  comparisons: Comparison[];
  failed: { agent: string; seed: number; error: string }[];
  /** Caveats a reader must see (one seed, failures, values left out). */
  notes: string[];
}

export interface SummaryOptions {
  /** Metrics to compare (default: meanF1 and mIoU, those present). */
  mainMetrics?: string[];
  /** Confidence level of intervals (default 0.95). */
  confidenceLevel?: number;
  /** Agent order (default: order of first appearance in `runs`, i.e. the config's). */
  agentOrder?: string[];
  /** Most points kept per training curve (default 100). */
  trainPoints?: number;
}

const DEFAULT_MAIN = ['meanF1', 'mIoU'];

export function buildSummary(
  experiment: string,
  runs: readonly RunResult[],
  opts: SummaryOptions = {},
): Summary {
  const level = opts.confidenceLevel ?? 0.95;
  const notes: string[] = [];
  const agents = agentOrder(runs, opts.agentOrder);
  const finished = (r: RunResult) => r.status === 'ok' && r.final !== undefined;

  const metricSet = new Set<string>();
  const classSet = new Set<string>();
  for (const r of runs.filter(finished)) {
    Object.keys(r.final!.metrics).forEach((k) => metricSet.add(k));
    Object.keys(r.final!.perClass).forEach((k) => classSet.add(k));
  }
  const mainMetrics = (opts.mainMetrics ?? DEFAULT_MAIN).filter((m) => metricSet.has(m));
  if (mainMetrics.length === 0 && metricSet.size > 0) mainMetrics.push([...metricSet].sort()[0]);
  const metrics = [...mainMetrics, ...[...metricSet].filter((m) => !mainMetrics.includes(m)).sort()];
  const known: readonly string[] = CLASS_NAMES;
  const classes = [
    ...known.filter((c) => classSet.has(c)),
    ...[...classSet].filter((c) => !known.includes(c)).sort(),
  ];

  const summaries: AgentSummary[] = agents.map((agent) => {
    const mine = runs.filter((r) => r.agent === agent).sort((a, b) => a.seed - b.seed);
    const ok = mine.filter(finished);
    const bad = mine.filter((r) => !finished(r));
    const seeds = ok.map((r) => r.seed);
    const est = (values: number[], what: string) =>
      finiteEstimate(seeds, values, level, `${agent} ${what}`, notes);
    const s: AgentSummary = {
      agent,
      seeds,
      failedSeeds: bad.map((r) => r.seed),
      wallSeconds: estimate(
        ok.map((r) => r.wallSeconds),
        level,
      ),
      metrics: Object.fromEntries(
        metrics.map((m) => [
          m,
          est(
            ok.map((r) => r.final!.metrics[m] ?? NaN),
            m,
          ),
        ]),
      ),
      perClassF1: Object.fromEntries(
        classes.map((c) => [
          c,
          est(
            ok.map((r) => r.final!.perClass[c]?.f1 ?? NaN),
            `F1 of ${c}`,
          ),
        ]),
      ),
      curves: evalCurves(ok),
      train: trainCurves(ok, opts.trainPoints ?? 100),
    };
    const sized = ok.filter((r) => r.final!.modelSize);
    if (sized.length > 0) {
      const { height, width } = sized[0].final!.modelSize!;
      s.modelSize = {
        height,
        width,
        metrics: Object.fromEntries(
          metrics.map((m) => [
            m,
            finiteEstimate(
              sized.map((r) => r.seed),
              sized.map((r) => r.final!.modelSize!.metrics[m] ?? NaN),
              level,
              `${agent} ${m} at the model's size`,
              notes,
            ),
          ]),
        ),
      };
    }
    if (ok.length === 0) notes.push(`${agent}: no seed finished, so it has no numbers.`);
    else if (ok.length === 1)
      notes.push(`${agent}: only one seed finished, so its confidence intervals and tests are undefined.`);
    return s;
  });

  const resolutions = new Set(runs.filter(finished).map((r) => r.final!.resolution ?? 'model'));
  const resolution: Resolution | 'mixed' = resolutions.size > 1 ? 'mixed' : ([...resolutions][0] ?? 'native');
  if (resolution === 'mixed') {
    const at = (res: Resolution) =>
      runs
        .filter((r) => finished(r) && (r.final!.resolution ?? 'model') === res)
        .map((r) => `${r.agent}/seed-${r.seed}`);
    notes.push(
      `final metrics are at mixed resolutions: at native label size ${at('native').join(', ')}; ` +
        `at the model's input size ${at('model').join(', ')} (results written before native scoring).`,
    );
  }

  // Decision options of the final evaluations: on in every finished run, in none, or 'mixed'.
  const whereOn = (on: (r: RunResult) => boolean) => {
    const ids = runs.filter((r) => finished(r) && on(r)).map((r) => `${r.agent}/seed-${r.seed}`);
    const all = runs.filter(finished).length;
    const state: boolean | 'mixed' = ids.length === 0 ? false : ids.length === all ? true : 'mixed';
    return { state, ids };
  };
  const flipped = whereOn((r) => r.final!.flip === true);
  const flip = flipped.state;
  if (flip === 'mixed') {
    notes.push(
      `only some final evaluations used flip test-time augmentation (${flipped.ids.join(', ')}): ` +
        'their scores are not comparable with the others.',
    );
  }
  const adjusted = whereOn((r) => r.final!.logitAdjusted === true);
  const logitAdjusted = adjusted.state;
  if (logitAdjusted === 'mixed') {
    notes.push(
      `the logit adjustment (-log class weights) applied to ${adjusted.ids.join(', ')} only: the agents ` +
        'trained without class weights decide on their plain logits.',
    );
  }

  const failed = runs
    .filter((r) => !finished(r))
    .map((r) => ({
      agent: r.agent,
      seed: r.seed,
      error: r.status === 'failed' ? (r.error ?? 'unknown error') : 'finished without a final evaluation',
    }))
    .sort((x, y) => agents.indexOf(x.agent) - agents.indexOf(y.agent) || x.seed - y.seed);
  if (failed.length > 0)
    notes.push(`${failed.length} of ${runs.length} runs failed; the numbers use finished runs only.`);

  return {
    version: 1,
    experiment,
    confidenceLevel: level,
    mainMetrics,
    metrics,
    resolution,
    flip,
    logitAdjusted,
    classes,
    agents: summaries,
    comparisons: compare(summaries, mainMetrics, level),
    failed,
    notes,
  };
}

function agentOrder(runs: readonly RunResult[], given?: string[]): string[] {
  const seen = [...new Set(runs.map((r) => r.agent))];
  if (!given) return seen;
  return [...given.filter((a) => seen.includes(a)), ...seen.filter((a) => !given.includes(a))];
}

/** An estimate over the finite values; a NaN (a class absent from the test set) is left out and noted. */
function finiteEstimate(
  seeds: number[],
  values: number[],
  level: number,
  what: string,
  notes: string[],
): Estimate {
  const keep = values.map((v) => Number.isFinite(v));
  const finite = values.filter((_, i) => keep[i]);
  const e: Estimate = { ...estimate(finite, level), seeds: seeds.filter((_, i) => keep[i]) };
  const dropped = values.length - finite.length;
  if (dropped > 0) {
    e.note = `${dropped} of ${values.length} seeds gave no value${e.note ? `; ${e.note}` : ''}`;
    if (finite.length > 0)
      notes.push(`${what}: ${dropped} of ${values.length} seeds gave no value (left out).`);
  }
  return e;
}

/** All pairs a < b in agent order, for each main metric; Holm adjustment within a metric. */
function compare(agents: AgentSummary[], mainMetrics: string[], level: number): Comparison[] {
  const out: Comparison[] = [];
  for (const metric of mainMetrics) {
    const family: Comparison[] = [];
    const usable = agents.filter((a) => a.metrics[metric]?.n > 0);
    for (let i = 0; i < usable.length; i++) {
      for (let j = i + 1; j < usable.length; j++) {
        const a = usable[i];
        const b = usable[j];
        const d = welch(a.metrics[metric].values, b.metrics[metric].values, level);
        family.push({
          metric,
          a: a.agent,
          b: b.agent,
          ...d,
          pHolm: null,
          paired: paired(a, b, metric, level),
        });
      }
    }
    holm(family.map((c) => c.pValue)).forEach((p, k) => (family[k].pHolm = p));
    out.push(...family);
  }
  return out;
}

/** Paired test over the seeds where both agents have a finite value of `metric`. */
function paired(a: AgentSummary, b: AgentSummary, metric: string, level: number): Comparison['paired'] {
  const byS = (e: Estimate) => new Map((e.seeds ?? []).map((s, i) => [s, e.values[i]]));
  const va = byS(a.metrics[metric]);
  const vb = byS(b.metrics[metric]);
  const seeds = [...va.keys()].filter((s) => vb.has(s)).sort((x, y) => x - y);
  if (seeds.length < 2) return null;
  const d = pairedT(
    seeds.map((s) => va.get(s)!),
    seeds.map((s) => vb.get(s)!),
    level,
  );
  return { ...d, seeds };
}

function point(step: number, values: number[]): CurvePoint {
  const e = estimate(values);
  return {
    step,
    n: values.length,
    mean: e.mean,
    std: e.std,
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

/** Average eval curves over seeds at each step any seed evaluated. */
function evalCurves(runs: RunResult[]): Record<string, CurvePoint[]> {
  const byMetric = new Map<string, Map<number, number[]>>();
  for (const r of runs) {
    for (const p of r.curve) {
      for (const [m, v] of Object.entries(p.metrics)) {
        if (!Number.isFinite(v)) continue;
        const steps = byMetric.get(m) ?? new Map<number, number[]>();
        byMetric.set(m, steps);
        steps.set(p.step, [...(steps.get(p.step) ?? []), v]);
      }
    }
  }
  return Object.fromEntries(
    [...byMetric.keys()].sort().map((m) => {
      const steps = byMetric.get(m)!;
      return [m, [...steps.keys()].sort((x, y) => x - y).map((step) => point(step, steps.get(step)!))];
    }),
  );
}

/**
 * Training scalars binned on a common step grid (at most `maxPoints` bins): each run is
 * averaged within a bin first, so a seed that logs more often does not weigh more.
 */
function trainCurves(runs: RunResult[], maxPoints: number): Record<string, CurvePoint[]> {
  const keys = new Set<string>();
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of runs) {
    for (const p of r.train ?? []) {
      Object.keys(p.scalars).forEach((k) => keys.add(k));
      lo = Math.min(lo, p.step);
      hi = Math.max(hi, p.step);
    }
  }
  if (keys.size === 0) return {};
  const bins = Math.max(1, Math.min(maxPoints, hi - lo + 1));
  const width = (hi - lo + 1) / bins;
  const binOf = (step: number) => Math.min(bins - 1, Math.floor((step - lo) / width));
  const out: Record<string, CurvePoint[]> = {};
  for (const key of [...keys].sort()) {
    const perBin: number[][] = Array.from({ length: bins }, () => []);
    const stepSum = new Float64Array(bins);
    const stepCount = new Float64Array(bins);
    for (const r of runs) {
      const sum = new Float64Array(bins);
      const count = new Float64Array(bins);
      for (const p of r.train ?? []) {
        const v = p.scalars[key];
        if (v === undefined || !Number.isFinite(v)) continue;
        const b = binOf(p.step);
        sum[b] += v;
        count[b]++;
        stepSum[b] += p.step;
        stepCount[b]++;
      }
      for (let b = 0; b < bins; b++) if (count[b] > 0) perBin[b].push(sum[b] / count[b]);
    }
    out[key] = perBin.flatMap((vals, b) =>
      vals.length > 0 ? [point(Math.round(stepSum[b] / stepCount[b]), vals)] : [],
    );
  }
  return out;
}

/**
 * Variance of the policy-gradient estimate, per baseline, at fixed weights. For each baseline
 * the same batches (env reset with the same seeds) and the same sampled labellings (agents
 * with the same sampling stream) are used, so the rows differ only by the baseline: a paired
 * comparison. Per batch the estimate g is the gradient of the REINFORCE surrogate (no entropy
 * or value terms) with respect to every policy parameter; over the batches we report
 *
 *   totalVariance      sum_j Var(g_j)                (trace of the covariance; what a baseline lowers)
 *   meanSqNorm         |mean g|^2                    (the signal; equal in expectation across
 *                                                     unbiased baselines, up to noise)
 *   projectedVariance  mean over fixed random unit directions u of Var(u . g)
 *   signal             |mean g|^2 - totalVariance / n: an unbiased estimate of |E g|^2, the
 *                      squared norm of the true gradient (can come out negative when noise wins)
 *   snr                signal / totalVariance: how far one batch's estimate points along the
 *                      true gradient; 1/snr is roughly the number of batches to average for a
 *                      reliable direction
 *
 * Advantage normalisation is off here: it rescales every batch and would hide what the
 * baseline does. `ema` starts from a moving average warmed up on separate batches and keeps updating after
 * each use (as in training); `critic` is fitted in closed form (ridge regression on the
 * pooled encoder features) on the warm-up batches, then held fixed.
 */
import * as tf from '@tensorflow/tfjs';
import type { Env, PolicyNet } from '../core/types.js';
import { Rng } from '../core/rng.js';
import { FprlError } from '../core/errors.js';
import { BASELINES, type AgentConfig, type BaselineKind } from '../../agents/config.js';
import type { ReinforceAgent, RlExperience } from '../../agents/reinforce.js';
import { buildAgent } from './build.js';

export interface DiagnoseOptions {
  env: Env;
  /** The policy at the weights to study; diagnose never changes or disposes it. */
  policy: PolicyNet;
  /** A reinforce agent config (credit, samples, normalisation...); `baseline` is set per row. */
  agent: Partial<AgentConfig>;
  baselines?: readonly BaselineKind[];
  /** Batches measured per baseline. */
  batches?: number;
  /** Batches to warm up the ema and fit the critic on (not measured). */
  warmupBatches?: number;
  /** Random unit directions for the projected variance. */
  directions?: number;
  seed?: number;
  /** Called after each measured batch (progress bars live in the command). */
  onBatch?: (baseline: BaselineKind, batch: number) => void;
}

export interface BaselineDiagnosis {
  baseline: BaselineKind;
  batches: number;
  totalVariance: number;
  meanSqNorm: number;
  projectedVariance: number;
  signal: number;
  snr: number;
  /** totalVariance / totalVariance of `none` (when `none` was measured). */
  varianceVsNone?: number;
  /** Mean reward (or credit) and mean advantage spread over the batches. */
  rewardMean: number;
  advStd: number;
}

export interface Diagnosis {
  parameters: number;
  samples: number;
  credit: string;
  rows: BaselineDiagnosis[];
}

/** A view of `policy` that the agents may "dispose" without freeing the shared weights. */
function borrowed(policy: PolicyNet): PolicyNet {
  return {
    numClasses: policy.numClasses,
    apply: (images, opts) => policy.apply(images, opts),
    get trainableVariables() {
      return policy.trainableVariables;
    },
    dispose: () => undefined,
  };
}

async function experience(agent: ReinforceAgent, env: Env, seed: number): Promise<RlExperience> {
  const { observation } = await env.reset({ seed });
  const needs = agent.needs;
  const exp: RlExperience = { observation, target: env.optimalAction() };
  exp.action = await agent.act(observation, 'sample', needs.samples);
  const opts = needs.pixelCredit ? { pixelCredit: needs.pixelCredit } : undefined;
  exp.result = await env.step(exp.action.labels, opts);
  if (needs.greedyReward) {
    const g = await env.step((await agent.act(observation, 'greedy')).labels, opts);
    exp.greedyReward = g.reward;
    exp.greedyPixelReward = g.pixelReward;
  }
  return exp;
}

async function warmUp(agent: ReinforceAgent, env: Env, policy: PolicyNet, seeds: number[]): Promise<void> {
  const baseline = agent.config.baseline;
  if (baseline !== 'ema' && baseline !== 'critic') return;
  const pooled: Float32Array[] = [];
  const targets: Float32Array[] = [];
  let dim = 0;
  for (const s of seeds) {
    const exp = await experience(agent, env, s);
    if (baseline === 'ema') agent.updateBaseline(exp);
    else {
      const p = tf.tidy(() => policy.apply(exp.observation.images, { training: false }).pooled);
      dim = p.shape[1];
      pooled.push(Float32Array.from(p.dataSync()));
      p.dispose();
      targets.push(agent.valueTargetsPerImage(exp));
    }
  }
  if (baseline === 'critic') agent.fitValueHead(concat(pooled), concat(targets), dim);
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export async function diagnoseBaselines(opts: DiagnoseOptions): Promise<Diagnosis> {
  const baselines = opts.baselines ?? BASELINES;
  const batches = opts.batches ?? 20;
  const warm = opts.warmupBatches ?? 5;
  const seed = opts.seed ?? 0;
  const nDir = opts.directions ?? 4;
  if (batches < 2) {
    throw new FprlError(`need at least 2 batches to estimate a variance, got ${batches}`, {
      where: '--batches',
      hint: 'use 20 or more for stable numbers',
    });
  }
  const vars = opts.policy.trainableVariables;
  const D = vars.reduce((n, v) => n + v.size, 0);
  // Fixed random unit directions, shared by every baseline.
  const dirRng = new Rng(seed, 'diagnose/directions');
  const dirs = Array.from({ length: nDir }, () => {
    const u = new Float64Array(D);
    let n = 0;
    for (let j = 0; j < D; j++) n += (u[j] = dirRng.normal()) ** 2;
    const inv = 1 / Math.sqrt(n);
    for (let j = 0; j < D; j++) u[j] *= inv;
    return u;
  });
  const measureSeeds = Array.from({ length: batches }, (_, i) => seed * 100003 + i);
  const warmSeeds = Array.from({ length: warm }, (_, i) => seed * 100003 + 50000 + i);
  const rows: BaselineDiagnosis[] = [];
  let samples = 0;
  let credit = 'image';
  for (const baseline of baselines) {
    const agent = buildAgent({
      config: { ...opts.agent, kind: 'reinforce', baseline, normalizeAdvantage: false },
      policy: borrowed(opts.policy),
      streams: { agent: new Rng(seed, 'diagnose/sampling') },
    }) as ReinforceAgent;
    samples = agent.config.samples;
    credit = agent.config.credit;
    try {
      await warmUp(agent, opts.env, opts.policy, warmSeeds);
      const sum = new Float64Array(D);
      const sumSq = new Float64Array(D);
      const proj = dirs.map(() => ({ s: 0, s2: 0 }));
      let rewardSum = 0;
      let advSum = 0;
      for (let i = 0; i < batches; i++) {
        // The sampling stream restarts per batch, so every baseline draws the same labellings.
        agent.setSamplingStream(new Rng(seed, `diagnose/sampling/${i}`));
        const exp = await experience(agent, opts.env, measureSeeds[i]);
        const { grads, advantages } = await agent.policyGradient(exp);
        let o = 0;
        const dots = new Float64Array(nDir);
        for (const g of grads) {
          const data = g.dataSync();
          for (let j = 0; j < data.length; j++, o++) {
            const x = data[j];
            sum[o] += x;
            sumSq[o] += x * x;
            for (let d = 0; d < nDir; d++) dots[d] += x * dirs[d][o];
          }
        }
        tf.dispose(grads);
        dots.forEach((x, d) => {
          proj[d].s += x;
          proj[d].s2 += x * x;
        });
        rewardSum += advantages.signalMean;
        advSum += advantages.advStd;
        agent.updateBaseline(exp);
        opts.onBatch?.(baseline, i + 1);
      }
      const n = batches;
      let totalVariance = 0;
      let meanSqNorm = 0;
      for (let j = 0; j < D; j++) {
        const m = sum[j] / n;
        meanSqNorm += m * m;
        totalVariance += Math.max(0, (sumSq[j] - n * m * m) / (n - 1));
      }
      const projectedVariance =
        proj.reduce((acc, p) => acc + Math.max(0, (p.s2 - (p.s * p.s) / n) / (n - 1)), 0) / Math.max(1, nDir);
      const signal = meanSqNorm - totalVariance / n;
      rows.push({
        baseline,
        batches,
        totalVariance,
        meanSqNorm,
        projectedVariance,
        signal,
        snr: totalVariance > 0 ? signal / totalVariance : NaN,
        rewardMean: rewardSum / n,
        advStd: advSum / n,
      });
    } finally {
      agent.dispose();
    }
  }
  const none = rows.find((r) => r.baseline === 'none');
  if (none) for (const r of rows) r.varianceVsNone = r.totalVariance / none.totalVariance;
  return { parameters: D, samples, credit, rows };
}

/** The diagnosis as an aligned text table. */
export function formatDiagnosis(d: Diagnosis): string {
  const head = [
    'baseline',
    'batches',
    'reward',
    'adv std',
    'total var',
    '|mean g|^2',
    'signal',
    'snr',
    'proj var',
    'var/none',
  ];
  const e = (x: number) => x.toExponential(3);
  const body = d.rows.map((r) => [
    r.baseline,
    String(r.batches),
    r.rewardMean.toFixed(4),
    r.advStd.toFixed(4),
    e(r.totalVariance),
    e(r.meanSqNorm),
    e(r.signal),
    r.snr.toPrecision(3),
    e(r.projectedVariance),
    r.varianceVsNone === undefined ? '-' : r.varianceVsNone.toFixed(3),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [
    `policy-gradient estimator variance at fixed weights (${d.parameters} parameters, k=${d.samples}, credit ${d.credit})`,
    line(head),
    ...body.map(line),
  ].join('\n');
}

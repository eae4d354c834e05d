import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend.js';
import { Rng } from '../../src/core/rng.js';
import { LinearPolicy } from '../../agents/nets/linear.js';
import { ReinforceAgent, type RlExperience } from '../../agents/reinforce.js';
import type { AgentConfig, BaselineKind, CreditKind } from '../../agents/config.js';
import { resolveAgentConfig } from '../../agents/registry.js';
import { policyWeights, type Advantages } from '../../agents/advantage.js';
import { TinyEnv, correctness, macroF1, type PixelCredit } from './fakes.js';
import { exactGradient, softmaxRows } from './exact.js';

/*
 * A 2x2 image, 3 classes, logits as direct parameters (zero image: the LinearPolicy's logits
 * are its per-position bias). The reward is the macro F1 of the labelling against a fixed
 * truth. One batch of M copies of the image gives M independent estimates: the gradient of the
 * surrogate with respect to image m's logits, times -M*P, estimates grad_z E[R] (see
 * agents/reinforce.ts). Each coordinate's mean must be within 4 standard errors (sd / sqrt(M))
 * of the exact gradient from enumerating all 3^4 = 81 labellings: with 12 coordinates a correct
 * estimator fails one of them by chance with probability about 12 * 6e-5 (the seeds are fixed,
 * so the test is deterministic anyway), while a biased one is caught (see the power check).
 */
const H = 2;
const W = 2;
const P = H * W;
const C = 3;
const M = 20000;
const K = 4;
// Chosen so that the greedy labelling (macro F1 0.389) is close to E[R] (0.323): there a
// self-critical baseline helps. (When greedy is far better than a sample, it does not.)
const Z = [
  [0.5, 0, 0],
  [0, 0.5, 0],
  [0, 0.3, 0.2],
  [0.3, 0, 0.2],
];
const TRUTH = new Int32Array([0, 1, 2, 1]);
const reward = macroF1(C);

/** d_p = R(a with pixel p set to its truth) - R(a), brute force (the convention of the reward plugins). */
const differenceCredit: PixelCredit = (pred, target) => {
  const base = reward(pred, target);
  const out = new Float32Array(pred.length);
  for (let p = 0; p < pred.length; p++) {
    if (pred[p] === target[p]) continue;
    const fixed = Int32Array.from(pred);
    fixed[p] = target[p];
    out[p] = reward(fixed, target) - base;
  }
  return out;
};

interface Setup {
  agent: ReinforceAgent;
  env: TinyEnv;
  credit: CreditKind;
}

function setup(baseline: BaselineKind, credit: CreditKind, seed: number, m = M): Setup {
  const policy = new LinearPolicy({ height: H, width: W, numClasses: C }, new Rng(0));
  policy.bias.assign(tf.tensor3d(Z.flat(), [H, W, C]));
  const config = resolveAgentConfig<AgentConfig>(
    { kind: 'reinforce', baseline, credit, samples: K, entropyCoef: 0, normalizeAdvantage: false },
    'agent',
    C,
  );
  const agent = new ReinforceAgent(config, policy, { rng: new Rng(seed, 'estimator') });
  const env = new TinyEnv({
    images: [new Float32Array(P * 3)],
    targets: [TRUTH],
    height: H,
    width: W,
    batchSize: m,
    numClasses: C,
    reward,
    pixelCredit: credit === 'difference' ? differenceCredit : correctness,
  });
  return { agent, env, credit };
}

/** One batch of M contexts with K samples each, scored as the trainer does. */
async function batch(s: Setup): Promise<RlExperience> {
  const { observation } = await s.env.reset();
  const pixelCredit = s.credit === 'image' ? undefined : s.credit;
  const action = await s.agent.act(observation, 'sample', K);
  const result = await s.env.step(action.labels, { pixelCredit });
  const exp: RlExperience = { observation, action, result, target: s.env.optimalAction() };
  if (s.agent.config.baseline === 'self-critical') {
    const greedy = await s.agent.act(observation, 'greedy');
    const g = await s.env.step(greedy.labels, { pixelCredit });
    exp.greedyReward = g.reward;
    exp.greedyPixelReward = g.pixelReward;
  }
  return exp;
}

/** Per-image gradient estimates [M][P*C] of grad_z E[objective] (baseline state warmed up on another batch). */
async function estimates(
  baseline: BaselineKind,
  credit: CreditKind = 'image',
  seed = 1,
  m = M,
): Promise<Float64Array[]> {
  const s = setup(baseline, credit, seed, m);
  try {
    if (baseline === 'ema' || baseline === 'critic') {
      const warm = await batch(s);
      s.agent.updateBaseline(warm);
      // The zero image's pooled features are zeros: the fitted critic predicts the mean reward.
      if (baseline === 'critic')
        s.agent.fitValueHead(new Float32Array(m * 3), s.agent.valueTargetsPerImage(warm), 3);
    }
    const exp = await batch(s);
    const logits = tf.tidy(() => s.agent.policy.apply(exp.observation.images).logits);
    const pooled = tf.zeros([m, 3]) as tf.Tensor2D;
    const value = baseline === 'critic' ? s.agent.predictValue(pooled) : undefined;
    const grad = tf.grad((z: tf.Tensor) => s.agent.policyLoss(z as tf.Tensor4D, exp, value))(logits);
    const g = grad.dataSync();
    tf.dispose([logits, pooled, grad]);
    return perImage(g, -m * P, m);
  } finally {
    s.agent.dispose();
    s.env.close();
  }
}

function perImage(g: ArrayLike<number>, scale: number, count = M): Float64Array[] {
  const D = P * C;
  return Array.from({ length: count }, (_, m) =>
    Float64Array.from({ length: D }, (_, j) => g[m * D + j] * scale),
  );
}

function meanAndSe(xs: Float64Array[]): { mean: number[]; se: number[]; totalVariance: number } {
  const D = xs[0].length;
  const mean = new Array(D).fill(0);
  const m2 = new Array(D).fill(0);
  for (const x of xs) for (let j = 0; j < D; j++) mean[j] += x[j] / xs.length;
  for (const x of xs) for (let j = 0; j < D; j++) m2[j] += (x[j] - mean[j]) ** 2;
  const variance = m2.map((v) => v / (xs.length - 1));
  return {
    mean,
    se: variance.map((v) => Math.sqrt(v / xs.length)),
    totalVariance: variance.reduce((a, b) => a + b),
  };
}

/** The largest |mean - exact| in units of the standard error, over all coordinates. */
function worstZ(xs: Float64Array[], exact: number[]): number {
  const { mean, se } = meanAndSe(xs);
  return Math.max(...mean.map((m, j) => Math.abs(m - exact[j]) / se[j]));
}

describe('the REINFORCE estimator on a 4-pixel, 3-class bandit (exact gradient by enumeration)', function () {
  this.timeout(60000);
  const exact = exactGradient(Z, (a) => reward(a, TRUTH)).grad.flat();
  const variance: Partial<Record<BaselineKind, number>> = {};

  before(async () => {
    await useBackend('cpu');
  });

  for (const baseline of ['none', 'ema', 'self-critical', 'rloo', 'critic'] as const) {
    it(`is unbiased with the '${baseline}' baseline: every coordinate within 4 standard errors`, async () => {
      const xs = await estimates(baseline);
      expect(worstZ(xs, exact)).to.be.lessThan(4);
      variance[baseline] = meanAndSe(xs).totalVariance;
    });
  }

  it('has lower variance with each of ema, self-critical, rloo and critic than without a baseline', () => {
    const none = variance.none!;
    for (const b of ['ema', 'self-critical', 'rloo', 'critic'] as const) {
      expect(variance[b], `${b} vs none (${none.toFixed(5)})`).to.be.lessThan(none);
    }
    // The value-based baselines remove most of the reward's mean: at least a third of the variance here.
    expect(variance.rloo!).to.be.lessThan(0.67 * none);
    expect(variance.critic!).to.be.lessThan(0.67 * none);
  });

  it('detects a biased estimator (power check): a baseline including the sample itself fails the same test', async () => {
    // A_k = R_k - mean_j R_j (j over all K, k included) = (K-1)/K * the rloo advantage:
    // its expectation is 3/4 of the gradient.
    const s = setup('none', 'image', 3);
    try {
      const exp = await batch(s);
      const r = exp.result!.reward;
      const values = new Float32Array(K * M);
      for (let m = 0; m < M; m++) {
        let mean = 0;
        for (let k = 0; k < K; k++) mean += r[k * M + m] / K;
        for (let k = 0; k < K; k++) values[k * M + m] = r[k * M + m] - mean;
      }
      const adv = { values, perPixel: false } as Advantages;
      const Wt = policyWeights(exp.action!.labels, adv, K, M, P, C);
      const logits = tf.tidy(() => s.agent.policy.apply(exp.observation.images).logits);
      const grad = tf.grad((z: tf.Tensor) =>
        tf.neg(tf.sum(tf.mul(tf.tensor4d(Wt, [M, H, W, C]), tf.logSoftmax(z as tf.Tensor4D)))),
      )(logits);
      const xs = perImage(grad.dataSync(), -M * P);
      tf.dispose([logits, grad]);
      expect(worstZ(xs, exact)).to.be.greaterThan(6);
    } finally {
      s.agent.dispose();
      s.env.close();
    }
  });

  describe('with per-pixel credit', () => {
    it('`difference` credit estimates the image reward gradient without bias (rloo and none)', async () => {
      for (const baseline of ['none', 'rloo'] as const) {
        expect(worstZ(await estimates(baseline, 'difference', 5, 8000), exact), baseline).to.be.lessThan(4);
      }
    });

    it('`difference` credit has lower variance than image credit', async () => {
      const image = meanAndSe(await estimates('none', 'image', 6, 8000)).totalVariance;
      const diff = meanAndSe(await estimates('none', 'difference', 6, 8000)).totalVariance;
      expect(diff).to.be.lessThan(image);
    });

    it('`pixel` credit (correctness) estimates the gradient of the expected number of correct pixels', async () => {
      // E[sum_p 1[a_p = t_p]] = sum_p pi_p(t_p): d/dz_pc = pi_pt (1[c = t] - pi_pc).
      const pi = softmaxRows(Z);
      const exactPixel = pi.flatMap((row, p) =>
        row.map((q, c) => row[TRUTH[p]] * ((c === TRUTH[p] ? 1 : 0) - q)),
      );
      for (const baseline of ['none', 'rloo', 'self-critical', 'ema', 'critic'] as const) {
        expect(worstZ(await estimates(baseline, 'pixel', 7, 5000), exactPixel), baseline).to.be.lessThan(4);
      }
    });
  });
});

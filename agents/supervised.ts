/**
 * Cross-entropy against the env's ground truth (`optimalAction()`), per pixel:
 * loss = -sum_p w_{t_p} sum_c q_pc log softmax(logits_p)_c / sum_p w_{t_p}, where q is the
 * (optionally label-smoothed) one-hot target, w the optional class weights, and pixels with
 * the ignore label are left out. The targets are built in JS as a dense [B,H,W,C] tensor and
 * multiplied with log-probabilities: no gather, so it trains on the wasm backend.
 */
import * as tf from '@tensorflow/tfjs';
import type { Experience, LossInfo, PolicyNet } from '../src/types.js';
import { FprlError } from '../src/errors.js';
import type { AgentConfig } from './config.js';
import type { AgentContext, AgentNeeds } from './base.js';
import { PolicyAgent } from './policy-agent.js';

export class SupervisedAgent extends PolicyAgent {
  readonly kind = 'supervised' as const;
  readonly needs: AgentNeeds = { target: true, reward: false, greedyReward: false, samples: 1 };

  constructor(config: AgentConfig, policy: PolicyNet, ctx: AgentContext) {
    super(config, policy, ctx);
  }

  /**
   * Target weights T [B*H*W*C] with sum(T * logp) = the weighted smoothed log-likelihood,
   * and the normaliser (total weight of the counted pixels).
   */
  targetWeights(target: Int32Array): { T: Float32Array; total: number; counted: number } {
    const C = this.numClasses;
    const eps = this.config.labelSmoothing;
    const weights = this.config.classWeights;
    const ig = this.config.ignoreIndex;
    const T = new Float32Array(target.length * C);
    let total = 0;
    let counted = 0;
    for (let i = 0; i < target.length; i++) {
      const t = target[i];
      if (t === ig) continue;
      if (t < 0 || t >= C) {
        throw new FprlError(
          `target label ${t} at pixel ${i} is outside 0..${C - 1} and is not the ignore label ${ig}`,
          {
            where: `agent '${this.name}'`,
            hint: `fix the label maps, or set ignoreIndex to ${t} if it marks pixels to ignore`,
          },
        );
      }
      const w = weights ? weights[t] : 1;
      const row = i * C;
      if (eps > 0) for (let c = 0; c < C; c++) T[row + c] = (w * eps) / C;
      T[row + t] += w * (1 - eps);
      total += w;
      counted++;
    }
    return { T, total, counted };
  }

  async learn(exp: Experience): Promise<LossInfo> {
    const target = exp.target;
    if (!target) {
      throw new FprlError('the supervised agent needs ground truth in the experience (`target`)', {
        where: `agent '${this.name}'`,
        hint: 'pass env.optimalAction() as `target` (the trainer does)',
      });
    }
    const images = exp.observation.images;
    const [B, H, W] = images.shape;
    const C = this.numClasses;
    const { T, total, counted } = this.targetWeights(target);
    if (counted === 0) return { 'losses/ce': 0, 'losses/total': 0, 'train/pixels': 0 };
    const dropoutRng = this.rng.fork(`dropout/${this.updates}`);
    if (this.parallel) {
      // Data-parallel (src/parallel/): the same loss summed over shards of images.
      const r = await this.optimizeSharded(
        images,
        T,
        { scale: 1 / total, entropyCoef: 0, pixels: B * H * W, training: true },
        dropoutRng,
      );
      return {
        'losses/ce': -r.sumWlogp / total,
        'losses/total': r.loss,
        'policy/entropy': r.sumEntropy / (B * H * W),
        'grad/norm': r.gradNorm,
        'grad/clipped': r.clipped ? 1 : 0,
        lr: r.lr,
      };
    }
    let stats: tf.Tensor | undefined;
    const tT = tf.tensor4d(T, [B, H, W, C]);
    try {
      const r = this.optimize(() => {
        const { logits } = this.policy.apply(images, { training: true, rng: dropoutRng });
        const logp = tf.logSoftmax(logits);
        const ce = tf.neg(tf.sum(tf.mul(tT, logp))).div(total) as tf.Scalar;
        const entropy = tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1)).mean();
        stats = tf.keep(tf.stack([ce, entropy]));
        return ce;
      });
      const [ce, entropy] = await stats!.data();
      return {
        'losses/ce': ce,
        'losses/total': r.loss,
        'policy/entropy': entropy,
        'grad/norm': r.gradNorm,
        'grad/clipped': r.clipped ? 1 : 0,
        lr: r.lr,
      };
    } finally {
      tT.dispose();
      stats?.dispose();
    }
  }
}

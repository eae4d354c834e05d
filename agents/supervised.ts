/**
 * Cross-entropy against the env's ground truth (`optimalAction()`), per pixel:
 * loss = -sum_p w_{t_p} sum_c q_pc log softmax(logits_p)_c / sum_p w_{t_p}, where q is the
 * (optionally label-smoothed) one-hot target, w the optional class weights, and pixels with
 * the ignore label are left out. The targets are built in JS as a dense [B,H,W,C] tensor and
 * multiplied with log-probabilities: no gather, so it trains on the wasm backend.
 */
import type { Experience, LossInfo, PolicyNet } from '../src/core/types.js';
import { FprlError } from '../src/core/errors.js';
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
    const { T, total, counted } = this.targetWeights(target);
    if (counted === 0) return { 'losses/ce': 0, 'losses/total': 0, 'train/pixels': 0 };
    const dropout = this.rng.fork(`dropout/${this.updates}`);
    const r = await this.optimize(images, { weights: T, normalizer: total, dropout });
    return {
      'losses/ce': r.policyTerm,
      'losses/total': r.loss,
      'policy/entropy': r.entropy,
      'grad/norm': r.gradNorm,
      'grad/clipped': r.clipped ? 1 : 0,
      lr: r.lr,
    };
  }
}

/**
 * REINFORCE for the per-pixel bandit. The policy labels every pixel independently,
 * pi(a|x) = prod_p softmax(logits_p)[a_p], and the loss is
 *
 *   pg_loss      = -(1/N) sum_{k,p} A_kp log pi(a_kp | x)          (N = K*B*H*W)
 *   entropy_loss = -beta * mean_p H(pi_p)
 *   value_loss   = valueCoef * mean_k (V(x) - R_k)^2               (critic only)
 *
 * with A = signal - baseline (agents/advantage.ts). The gradient of pg_loss is -(1/(B*P)) times
 * an unbiased estimate of grad E[R] per image for every baseline here, since no baseline depends
 * on the sample it is subtracted from. pg_loss is -sum(W * logSoftmax(logits)) with W built in JS
 * (agents/advantage.ts `policyWeights`): one forward/backward pass for all k samples, no gather.
 * The agent only describes the loss ({@link ReinforceAgent.lossSpec}); the executor
 * (src/parallel/loss.ts) computes it, on one thread or many, for training and for the tests alike.
 */
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import type { Experience, LossInfo, PolicyNet } from '../src/core/types.js';
import { FprlError } from '../src/core/errors.js';
import { linearDecay } from '../src/optim/schedule.js';
import { readTensors, writeTensors, checkShapes } from '../src/optim/tensor-io.js';
import type { AgentConfig } from './config.js';
import type { AgentContext, AgentNeeds } from './base.js';
import { PolicyAgent } from './policy-agent.js';
import { computeAdvantages, policyWeights, updateEma, type AdvantageInput, type Advantages } from './advantage.js';
import { ValueHead } from './value-head.js';
import { pixelLoss, type LossSpec } from '../src/parallel/loss.js';

/** An experience for REINFORCE: the greedy labelling's per-pixel credit too (self-critical with pixel credit). */
export interface RlExperience extends Experience {
  /** [B*H*W] per-pixel credit of the greedy labelling. */
  greedyPixelReward?: Float32Array;
}

/** What the loss of one batch is built from, in plain numbers. */
interface Prepared {
  K: number;
  B: number;
  H: number;
  W: number;
  P: number;
  actions: Int32Array;
  signal: Float32Array;
  mask?: Uint8Array;
}

export class ReinforceAgent extends PolicyAgent {
  readonly kind: string = 'reinforce';
  readonly needs: AgentNeeds;
  /** Moving average of the signal (`ema` baseline); undefined before the first batch. */
  ema: number | undefined;
  /** The critic (`critic` baseline), created on the first batch once the pooled size is known. */
  valueHead: ValueHead | undefined;

  constructor(config: AgentConfig, policy: PolicyNet, ctx: AgentContext) {
    super(config, policy, ctx);
    this.needs = {
      target: true,
      reward: true,
      greedyReward: config.baseline === 'self-critical',
      samples: config.samples,
      pixelCredit: config.credit === 'image' ? undefined : config.credit,
    };
  }

  protected override get variables(): tf.Variable[] {
    const vars = super.variables;
    return this.valueHead ? [...vars, ...this.valueHead.variables] : vars;
  }

  /** Entropy coefficient of the next update. */
  get entropyCoef(): number {
    const c = this.config;
    return c.entropySchedule === 'linear'
      ? linearDecay(c.entropyCoef, c.entropyFinalCoef, this.updates, this.plannedSteps)
      : c.entropyCoef;
  }

  private prepare(exp: RlExperience): Prepared {
    const where = `agent '${this.name}'`;
    if (!exp.action || !exp.result) {
      throw new FprlError('REINFORCE needs the sampled action and its step result in the experience', {
        where,
        hint: 'act(obs, "sample", k), env.step(action.labels), then learn({ observation, action, result })',
      });
    }
    const [B, H, W] = exp.observation.images.shape;
    const P = H * W;
    const K = exp.action.samples;
    if (exp.action.labels.length !== K * B * P) {
      throw new FprlError(`the action has ${exp.action.labels.length} labels, expected ${K}x${B}x${H}x${W}`, {
        where,
      });
    }
    if (this.config.baseline === 'rloo' && K < 2) {
      throw new FprlError(`baseline 'rloo' needs at least 2 samples per image, the action has ${K}`, {
        where,
        hint: 'act with samples >= 2 (the trainer uses the config’s `samples`)',
      });
    }
    let signal: Float32Array;
    if (this.config.credit === 'image') signal = exp.result.reward;
    else {
      if (!exp.result.pixelReward) {
        throw new FprlError(`credit '${this.config.credit}' needs per-pixel credit, the env returned none`, {
          where,
          hint: `use a reward plugin that gives '${this.config.credit}' credit (e.g. f1, dice) and step with { pixelCredit: '${this.config.credit}' }`,
        });
      }
      signal = this.creditSignal(exp.result.pixelReward);
    }
    for (let i = 0; i < signal.length; i++) {
      if (!Number.isFinite(signal[i])) {
        throw new FprlError(`the reward is not finite (${signal[i]} at entry ${i})`, {
          where,
          hint: 'a reward plugin returned NaN or Infinity; check its inputs (empty classes?)',
        });
      }
    }
    return { K, B, H, W, P, actions: exp.action.labels, signal, mask: this.ignoreMask(exp.target) };
  }

  /**
   * The per-pixel learning signal from the env's credit. `pixel`: the credit itself (e.g.
   * correctness; REINFORCE then follows grad E[sum_p credit_p]). `difference`: the env gives
   * d_p = R(a with pixel p set to its truth) - R(a), the gain if p were fixed; the signal is
   * -d_p = R(a) - R(a_{p<-truth}): the image reward minus a counterfactual that does not depend
   * on a_p, hence an unbiased per-pixel estimator of grad E[R] (the reward with a per-pixel baseline).
   */
  private creditSignal(pixelReward: Float32Array): Float32Array {
    if (this.config.credit !== 'difference') return pixelReward;
    const out = new Float32Array(pixelReward.length);
    for (let i = 0; i < out.length; i++) out[i] = -pixelReward[i];
    return out;
  }

  private greedySignal(exp: RlExperience, prep: Prepared): Float32Array | undefined {
    if (this.config.baseline !== 'self-critical') return undefined;
    const raw = this.config.credit === 'image' ? exp.greedyReward : exp.greedyPixelReward;
    const g = raw && this.config.credit !== 'image' ? this.creditSignal(raw) : raw;
    if (!g) {
      throw new FprlError('the self-critical baseline needs the reward of the greedy labelling', {
        where: `agent '${this.name}'`,
        hint: `put ${this.config.credit === 'image' ? '`greedyReward` [B]' : '`greedyPixelReward` [B*H*W]'} in the experience (the trainer does)`,
      });
    }
    if (g.length !== prep.B * (this.config.credit === 'image' ? 1 : prep.P)) {
      throw new FprlError(`the greedy reward has ${g.length} entries for ${prep.B} images`, {
        where: `agent '${this.name}'`,
      });
    }
    return g;
  }

  /** The critic's target per sample [K*B]: the image reward, or the mean pixel credit (valid pixels). */
  private valueTargets(prep: Prepared): Float32Array {
    const { K, B, P, signal, mask } = prep;
    if (signal.length === K * B) return signal;
    const out = new Float32Array(K * B);
    for (let kb = 0; kb < K * B; kb++) {
      let s = 0;
      let n = 0;
      const b = kb % B;
      for (let p = 0; p < P; p++) {
        if (mask && mask[b * P + p] === 0) continue;
        s += signal[kb * P + p];
        n++;
      }
      out[kb] = n ? s / n : 0;
    }
    return out;
  }

  private ensureValueHead(dim: number): ValueHead {
    if (!this.valueHead) this.valueHead = new ValueHead(dim);
    return this.valueHead;
  }

  /** Critic values [B] for pooled features (no gradient). */
  predictValue(pooled: tf.Tensor2D): Float32Array {
    const head = this.ensureValueHead(pooled.shape[1]);
    const v = head.apply(pooled);
    const out = v.dataSync() as Float32Array;
    v.dispose();
    return Float32Array.from(out);
  }

  /** The critic's regression target per image [B]: the mean over the k samples of the image's signal. */
  valueTargetsPerImage(exp: RlExperience): Float32Array {
    const prep = this.prepare(exp);
    const perSample = this.valueTargets(prep);
    const out = new Float32Array(prep.B);
    for (let k = 0; k < prep.K; k++)
      for (let b = 0; b < prep.B; b++) out[b] += perSample[k * prep.B + b] / prep.K;
    return out;
  }

  /**
   * Fit the critic in closed form (ridge regression) on pooled features [n*dim] and targets [n],
   * at fixed encoder weights: the diagnostics use this to give the critic a trained baseline.
   */
  fitValueHead(pooled: Float32Array, targets: Float32Array, dim: number): void {
    this.ensureValueHead(dim).fit(pooled, targets);
  }

  /** Advantages of a batch; `value` is the critic's prediction per image. */
  advantages(exp: RlExperience, value?: Float32Array): Advantages {
    const prep = this.prepare(exp);
    return this.advantagesOf(exp, prep, value);
  }

  private advantagesOf(exp: RlExperience, prep: Prepared, value?: Float32Array): Advantages {
    return this.advantagesFrom({
      K: prep.K,
      B: prep.B,
      P: prep.P,
      baseline: this.config.baseline,
      signal: prep.signal,
      ema: this.ema,
      greedy: this.greedySignal(exp, prep),
      value,
      mask: prep.mask,
      normalize: this.config.normalizeAdvantage,
    });
  }

  /**
   * The advantages from the batch's learning signal and the baseline's inputs (agents/advantage.ts):
   * the hook a REINFORCE variant overrides to change only its baseline (README, "Write your own agent").
   */
  protected advantagesFrom(input: AdvantageInput): Advantages {
    return computeAdvantages(input);
  }

  /**
   * The loss of a batch in plain numbers (src/parallel/loss.ts): W from the advantages, the entropy
   * bonus and, with the critic, its value term. `terms: 'policy'` leaves out the entropy and value
   * terms (the policy-gradient surrogate alone, for the estimator tests and diagnostics).
   */
  lossSpec(prep: Prepared, adv: Advantages, terms: 'all' | 'policy' = 'all'): LossSpec {
    const { K, B, P, actions, mask } = prep;
    const spec: LossSpec = { weights: policyWeights(actions, adv, K, B, P, this.numClasses, mask), normalizer: 1 };
    if (terms === 'policy') return spec;
    spec.entropyCoef = this.entropyCoef;
    if (this.config.baseline === 'critic') {
      spec.value = { targets: this.valueTargets(prep), K, coef: this.config.valueCoef };
    }
    return spec;
  }

  /**
   * The policy-gradient surrogate alone, as a function of `logits` [B,H,W,C]:
   * -sum(W * logSoftmax(logits)), the training loss's policy term. Its gradient with respect to
   * the logits of image b, times -B*H*W, is an unbiased estimate of grad E[R] for that image.
   */
  policyLoss(logits: tf.Tensor4D, exp: RlExperience, value?: Float32Array): tf.Scalar {
    const prep = this.prepare(exp);
    const spec = this.lossSpec(prep, this.advantagesOf(exp, prep, value), 'policy');
    return tf.tidy(() => pixelLoss(logits, undefined, spec).loss);
  }

  /**
   * The policy-gradient estimate of one batch with respect to the policy's variables (no
   * entropy or value terms, no update, baseline state untouched), computed by the executor that
   * training uses. Caller disposes the grads.
   */
  async policyGradient(exp: RlExperience): Promise<{ grads: tf.Tensor[]; advantages: Advantages }> {
    const prep = this.prepare(exp);
    const values = await this.criticValues(exp, prep, false);
    const advantages = this.advantagesOf(exp, prep, values);
    const spec = this.lossSpec(prep, advantages, 'policy');
    const r = await this.executor.gradients(this.policy, exp.observation.images, spec, this.weightsVersion);
    return { grads: r.grads, advantages };
  }

  /** Move the baseline's state past this batch (the `ema` update, after the batch used it). */
  updateBaseline(exp: RlExperience): void {
    this.advanceBaseline(this.prepare(exp));
  }

  private advanceBaseline(prep: Prepared): void {
    if (this.config.baseline !== 'ema') return;
    const targets = this.valueTargets(prep);
    let s = 0;
    for (const t of targets) s += t;
    this.ema = updateEma(this.ema, s / targets.length, this.config.emaDecay);
  }

  protected override wantsPooled(): boolean {
    return this.config.baseline === 'critic';
  }

  /**
   * learn() differentiates the pass act() sampled from (dropout off in both), so act() keeps it
   * (agents/policy-agent.ts `keepsSamplingPass`). false: learn() runs the forward pass again, with
   * the same numbers bit for bit and one forward pass more per update (`fprl bench --agent
   * reinforce` times both).
   */
  reuseSamplingPass = true;

  protected override keepsSamplingPass(): boolean {
    return this.reuseSamplingPass;
  }

  /**
   * The batch's pooled features [B*D]: from the sampling pass when it was this batch at these
   * weights (the same numbers a new pass gives), else a pass now. `consume`: forget the sampling
   * pass's features (the update is about to change the weights).
   */
  private async pooledFor(images: tf.Tensor4D, consume: boolean): Promise<Float32Array> {
    const last = this.lastPooled;
    if (consume) this.lastPooled = undefined;
    if (last && last.images === images && last.version === this.weightsVersion) return last.pooled;
    return this.executor.pooled(this.policy, images, this.weightsVersion);
  }

  /** The critic's values [B] for the batch (plain numbers: the advantage stops the gradient); undefined without a critic. */
  private async criticValues(exp: RlExperience, prep: Prepared, consume: boolean): Promise<Float32Array | undefined> {
    if (this.config.baseline !== 'critic') return undefined;
    const pooled = await this.pooledFor(exp.observation.images, consume);
    const D = pooled.length / prep.B;
    // The head must exist before the update so that it is among the optimised variables.
    this.ensureValueHead(D);
    return tf.tidy(() => this.predictValue(tf.tensor2d(pooled, [prep.B, D])));
  }

  /**
   * One update: the critic's values (from the sampling pass's pooled features), the advantages,
   * the loss description, the executor's gradients (one thread or many), the optimiser step, then
   * the baseline's state moves past the batch.
   */
  async learn(exp: RlExperience): Promise<LossInfo> {
    const prep = this.prepare(exp);
    const values = await this.criticValues(exp, prep, true);
    const adv = this.advantagesOf(exp, prep, values);
    const spec = this.lossSpec(prep, adv);
    const r = await this.optimize(exp.observation.images, spec, spec.value ? this.valueHead : undefined);
    this.advanceBaseline(prep);
    const beta = spec.entropyCoef!;
    const info: LossInfo = {
      'losses/policy': r.policyTerm,
      'losses/entropy': -beta * r.entropy,
      'losses/total': r.loss,
      'policy/entropy': r.entropy,
      'reward/mean': adv.signalMean,
      'reward/std': adv.signalStd,
      'baseline/mean': adv.baselineMean,
      'adv/mean': adv.advMean,
      'adv/std': adv.advStd,
      'grad/norm': r.gradNorm,
      'grad/clipped': r.clipped ? 1 : 0,
      'entropy/coef': beta,
      lr: r.lr,
    };
    if (r.valueLoss !== undefined) info['losses/value'] = r.valueLoss;
    // Under pixel credit `reward/mean` is the mean credit; keep the image reward comparable across runs.
    if (this.config.credit !== 'image') info['reward/image_mean'] = mean(exp.result!.reward);
    return info;
  }

  protected override stateJson(): Record<string, unknown> {
    return { ema: this.ema ?? null, valueHeadDim: this.valueHead?.dim ?? null };
  }

  protected override async saveExtra(dir: string): Promise<void> {
    if (this.valueHead) {
      await writeTensors(
        dir,
        'value-head',
        this.valueHead.variables.map((v, i) => ({ name: i === 0 ? 'kernel' : 'bias', tensor: v })),
      );
    }
  }

  protected override async loadExtra(dir: string, state: Record<string, unknown>): Promise<void> {
    this.ema = typeof state.ema === 'number' ? state.ema : undefined;
    const dim = state.valueHeadDim;
    if (typeof dim !== 'number') return;
    const named = await readTensors(dir, 'value-head');
    try {
      const head = this.ensureValueHead(dim);
      checkShapes(
        named.map((n) => ({ name: n.name, shape: n.tensor.shape })),
        head.variables,
        path.join(dir, 'value-head.json'),
        'value head',
      );
      head.variables.forEach((v, i) => v.assign(named[i].tensor));
    } finally {
      named.forEach((n) => n.tensor.dispose());
    }
  }

  override dispose(): void {
    super.dispose();
    this.valueHead?.dispose();
  }
}

function mean(a: Float32Array): number {
  let s = 0;
  for (const x of a) s += x;
  return a.length ? s / a.length : 0;
}

/**
 * The part of the supervised and REINFORCE agents that is about owning a policy network:
 * acting (greedy argmax or per-pixel sampling), one optimiser update with gradient clipping
 * and a finiteness check, and saving/loading weights, optimiser state, counters and RNG.
 * The agent owns the policy: dispose() disposes it.
 */
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import type { Action, ActMode, Experience, LossInfo, Observation, PolicyNet } from '../src/core/types.js';
import { Rng } from '../src/core/rng.js';
import { FprlError } from '../src/core/errors.js';
import { resolveTrainingConfig, type TrainingConfig } from '../src/optim/config.js';
import { createOptimizer, type Optimizer } from '../src/optim/optimizers.js';
import { learningRate } from '../src/optim/schedule.js';
import { clipByGlobalNorm } from '../src/optim/grad.js';
import { readTensors, writeTensors } from '../src/optim/tensor-io.js';
import type { AgentConfig } from './config.js';
import {
  defaultAgentName,
  readAgentFile,
  writeAgentFile,
  type AgentContext,
  type AgentNeeds,
  type FprlAgent,
} from './base.js';
import { loadPolicyWeights, savePolicyWeights } from './policy-io.js';
import { DataParallel } from '../src/parallel/pool.js';
import type { HeadVariables, LossSpec } from '../src/parallel/loss.js';

export abstract class PolicyAgent implements FprlAgent {
  abstract readonly kind: string;
  abstract readonly needs: AgentNeeds;
  readonly name: string;
  readonly numClasses: number;
  protected rng: Rng;
  protected readonly training: TrainingConfig;
  plannedSteps: number;
  protected readonly optimizer: Optimizer;
  updates = 0;
  /**
   * Runs the loss and the forward passes (src/parallel/): a pool of one (this thread) unless a
   * data-parallel pool is attached. There is one learning path whatever the thread count.
   */
  protected executor: DataParallel;
  /** Changes whenever the weights change (update, load, initFrom), so the pool re-broadcasts them. */
  protected weightsVersion = 0;

  constructor(
    readonly config: AgentConfig,
    readonly policy: PolicyNet,
    ctx: AgentContext,
  ) {
    this.name = ctx.name ?? defaultAgentName(config);
    this.numClasses = policy.numClasses;
    this.rng = ctx.rng;
    // Resolving is idempotent: a partial config from a caller gets its defaults here.
    this.training = resolveTrainingConfig(ctx.training ?? {});
    this.plannedSteps = ctx.totalSteps ?? this.training.steps ?? 100;
    this.optimizer = createOptimizer(this.training.optimizer);
    this.executor = DataParallel.single(policy);
  }

  /**
   * Replace the sampling stream. Diagnostics use it to give several agents the same draws
   * (a paired comparison of baselines); training never needs it.
   */
  setSamplingStream(rng: Rng): void {
    this.rng = rng;
  }

  /**
   * Pooled features [B*D] of the batch last sampled on the pool, with the weights they were
   * computed at: a critic's values for that batch without another forward pass.
   */
  protected lastPooled: { images: tf.Tensor4D; version: number; pooled: Float32Array } | undefined;

  /** Whether sampling on the pool should also return the pooled features (the critic's input). */
  protected wantsPooled(): boolean {
    return false;
  }

  /**
   * Whether `act(obs, 'sample')` keeps its forward pass for the next `learn` on the same
   * observation (src/parallel/pool.ts, "Kept passes"): an agent whose loss differentiates the
   * very pass it sampled from (REINFORCE: dropout off in both) saves a forward pass per update.
   * The pass holds one batch's activations until `learn`, the next sampling, or dispose().
   */
  protected keepsSamplingPass(): boolean {
    return false;
  }

  /**
   * Compute gradients and forward passes with `pool` (several threads), or on this thread only
   * (`undefined`). The caller owns the pool and disposes it after detaching it.
   */
  useParallel(pool: DataParallel | undefined): void {
    this.executor.releaseKept();
    this.executor = pool ?? DataParallel.single(this.policy);
  }

  /** Every variable `learn` updates (the policy's, plus heads a subclass adds). */
  protected get variables(): tf.Variable[] {
    return this.policy.trainableVariables;
  }

  /** Learning rate of the next update. */
  get learningRate(): number {
    return learningRate(this.training.schedule, this.training.optimizer.lr, this.updates, this.plannedSteps);
  }

  protected get gradClip(): number {
    return this.config.gradClip ?? this.training.gradClip;
  }

  /**
   * `greedy`: the argmax labelling (one sample whatever `samples` says). `sample`: `samples`
   * labellings per image drawn pixel by pixel from softmax(logits) with the agent's stream.
   * Dropout is off in both, so the sampled policy is the one REINFORCE differentiates.
   */
  async act(obs: Observation, mode: ActMode, samples = 1): Promise<Action> {
    if (mode === 'greedy') {
      return { labels: await this.executor.greedy(this.policy, obs.images, this.weightsVersion), samples: 1 };
    }
    // Draw j of pixel i is uniform j*B*H*W + i of the agent's stream; each shard samples its pixels.
    const [B, H, W] = obs.images.shape;
    const u = this.rng.fill(new Float64Array(samples * B * H * W));
    const pooled = this.wantsPooled();
    const keep = this.keepsSamplingPass();
    const r = await this.executor.sample(this.policy, obs.images, samples, u, this.weightsVersion, pooled, keep);
    if (pooled) this.lastPooled = { images: obs.images, version: this.weightsVersion, pooled: r.pooled! };
    return { labels: r.labels, samples };
  }

  /**
   * Greedy logits [B,H,W,C] on this thread (dropout off): `act(obs, 'greedy')` is their argmax.
   * Evaluation at each label's own size resizes them before the argmax. The caller disposes them.
   */
  async logits(obs: Observation): Promise<tf.Tensor4D> {
    return tf.tidy(() => this.policy.apply(obs.images, { training: false }).logits);
  }

  abstract learn(exp: Experience): Promise<LossInfo>;

  /**
   * One optimiser update of {@link variables} on the loss `spec` describes (src/parallel/loss.ts),
   * run by the executor on this thread or across the pool's threads; `head` is the value head
   * when the spec has a value term (its variables follow the policy's in {@link variables}).
   */
  protected async optimize(
    images: tf.Tensor4D,
    spec: LossSpec,
    head?: HeadVariables,
  ): Promise<{
    loss: number;
    gradNorm: number;
    clipped: boolean;
    lr: number;
    policyTerm: number;
    entropy: number;
    valueLoss?: number;
  }> {
    const r = await this.executor.gradients(this.policy, images, spec, this.weightsVersion, head);
    const { policyTerm, entropy, valueLoss } = r;
    return { ...this.applyUpdate(r.loss, r.grads), policyTerm, entropy, valueLoss };
  }

  /** Clip `list` (gradients of {@link variables}, disposed here), refuse non-finite values, step. */
  private applyUpdate(
    loss: number,
    list: tf.Tensor[],
  ): { loss: number; gradNorm: number; clipped: boolean; lr: number } {
    const vars = this.variables;
    const clip = clipByGlobalNorm(list, this.gradClip);
    try {
      if (!Number.isFinite(loss) || !Number.isFinite(clip.norm)) {
        throw new FprlError(
          `non-finite ${Number.isFinite(loss) ? 'gradient norm' : 'loss'} (loss ${loss}, gradient norm ${clip.norm}); the update was not applied`,
          {
            where: `agent '${this.name}', update ${this.updates + 1}`,
            hint: 'lower the learning rate, keep gradClip on, or check the reward for NaN values',
          },
        );
      }
      const lr = this.learningRate;
      this.optimizer.apply(vars, clip.grads, lr);
      this.updates++;
      this.weightsVersion++;
      return { loss, gradNorm: clip.norm, clipped: clip.clipped, lr };
    } finally {
      clip.grads.forEach((g) => g.dispose());
    }
  }

  /** Per-pixel ignore mask [B*H*W]: 0 where the truth is the ignore label. */
  protected ignoreMask(target: Int32Array | undefined): Uint8Array | undefined {
    if (!target) return undefined;
    const mask = new Uint8Array(target.length);
    const ig = this.config.ignoreIndex;
    for (let i = 0; i < target.length; i++) mask[i] = target[i] === ig ? 0 : 1;
    return mask;
  }

  /** Kind-specific plain state for agent.json. */
  protected stateJson(): Record<string, unknown> {
    return {};
  }

  /** Kind-specific tensors (written before the optimiser state is restored on load). */
  protected async saveExtra(_dir: string): Promise<void> {}
  protected async loadExtra(_dir: string, _state: Record<string, unknown>): Promise<void> {}

  async save(dir: string): Promise<void> {
    await savePolicyWeights(this.policy, path.join(dir, 'policy'));
    await this.saveExtra(dir);
    await writeTensors(dir, 'optimizer', this.optimizer.getState(this.variables).slots);
    await writeAgentFile(dir, {
      format: 'fprl-agent/1',
      kind: this.kind,
      name: this.name,
      config: this.config,
      updates: this.updates,
      rng: this.rng.getState(),
      state: {
        ...this.stateJson(),
        optimizer: { name: this.optimizer.config.name, iterations: this.optimizer.iterations },
      },
    });
  }

  async load(dir: string): Promise<void> {
    const file = await readAgentFile(dir, this.kind);
    const opt = file.state.optimizer as { name: string; iterations: number };
    if (opt.name !== this.optimizer.config.name) {
      throw new FprlError(
        `the saved agent used optimiser '${opt.name}', this one uses '${this.optimizer.config.name}'`,
        {
          where: path.join(dir, 'agent.json'),
          hint: 'resume with the same training.optimizer, or use initFrom to start fresh from its weights',
        },
      );
    }
    await loadPolicyWeights(this.policy, path.join(dir, 'policy'));
    await this.loadExtra(dir, file.state);
    const slots = await readTensors(dir, 'optimizer');
    try {
      this.optimizer.setState(
        this.variables,
        { iterations: opt.iterations, slots },
        path.join(dir, 'optimizer.json'),
      );
    } catch (e) {
      slots.forEach((s) => s.tensor.dispose());
      throw e;
    }
    this.updates = file.updates;
    this.rng = Rng.fromState(file.rng);
    this.weightsVersion++;
  }

  /**
   * Add `delta` [C] to the policy's per-class output bias (every pixel's logits move by it, so
   * the argmax becomes that of logits + delta): `initLogitAdjustment` bakes the logit adjustment
   * of class weights into a starting point this way. `where` names the config field for errors.
   */
  shiftClassBias(delta: readonly number[], where: string): void {
    const bias = this.policy.classBias?.();
    if (!bias) {
      throw new FprlError("this policy network has no per-class output bias to shift", {
        where,
        hint: 'initLogitAdjustment needs a Face Transformer (vit or hybrid) policy',
      });
    }
    if (delta.length !== bias.size) {
      throw new FprlError(`${delta.length} class weights for ${bias.size} classes`, { where });
    }
    tf.tidy(() => bias.assign(tf.add(bias, tf.tensor1d(Array.from(delta), 'float32'))));
    this.weightsVersion++;
  }

  async initFrom(agentDir: string): Promise<void> {
    await loadPolicyWeights(this.policy, path.join(agentDir, 'policy'));
    this.weightsVersion++;
  }

  dispose(): void {
    this.executor.releaseKept();
    this.optimizer.dispose();
    this.policy.dispose();
  }
}

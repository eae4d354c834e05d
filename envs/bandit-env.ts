import type * as tf from '@tensorflow/tfjs';
import { EventBus } from '../src/core/bus.js';
import { IGNORE_INDEX, NUM_CLASSES } from '../src/core/classes.js';
import { IMAGE_RANGE } from '../src/data/normalize.js';
import { FprlError } from '../src/core/errors.js';
import type { Registry } from '../src/core/registry.js';
import { Box, LabelMap } from '../src/core/spaces.js';
import type {
  Env,
  Observation,
  PixelCreditKind,
  RewardPlugin,
  RewardSpec,
  StepResult,
} from '../src/core/types.js';
import { attachRewards, type RewardAttachment } from '../rewards/index.js';
import { nextRequestId, requestRewards } from './reward-request.js';

/** The contexts of one reset: what the agent sees and what the rewards compare against. */
export interface Contexts {
  /** [B,H,W,3] float32 in IMAGE_RANGE; the env owns it until the next reset or close. */
  images: tf.Tensor4D;
  /** [B*H*W] ground-truth classes (ignoreIndex where nothing counts). */
  target: Int32Array;
  ids: string[];
}

export interface BanditEnvOptions {
  batchSize: number;
  height: number;
  width: number;
  numClasses?: number;
  ignoreIndex?: number;
  /** Where actions are published and rewards answer. Default: a private bus. */
  bus?: EventBus;
  /** Reward components; default one F1 component (the LaPa metric, macro over foreground). */
  rewards?: RewardSpec[];
  /** How long step() waits for every reward component. Default 30 000 ms. */
  rewardTimeoutMs?: number;
  /** Where reward plugins are looked up. Default: the global reward registry. */
  registry?: Registry<RewardPlugin>;
}

export const DEFAULT_REWARDS: readonly RewardSpec[] = [{ name: 'f1', plugin: 'f1', weight: 1 }];
export const DEFAULT_REWARD_TIMEOUT_MS = 30_000;
let envInstances = 0;

/**
 * A contextual bandit over label maps (the template, as TF-Agents' BanditPyEnvironment):
 * this class owns reset/step, action checks, the reward round trip over the bus and the
 * combination of components. A subclass implements two hooks: {@link observe} (draw the next
 * contexts) and {@link seed} (restart its random streams). Every step ends the episode.
 */
export abstract class BanditEnv implements Env {
  readonly observationSpace: Box;
  readonly actionSpace: LabelMap;
  readonly rewardRange: readonly [number, number];
  readonly bus: EventBus;
  readonly batchSize: number;
  readonly height: number;
  readonly width: number;
  readonly numClasses: number;
  readonly ignoreIndex: number;
  readonly rewardTimeoutMs: number;
  /** The bus channel of this env's actions (its reward components listen on it only). */
  readonly channel: string;
  private readonly attachment: RewardAttachment;
  private current?: Contexts;
  private closed = false;

  constructor(
    readonly id: string,
    opts: BanditEnvOptions,
  ) {
    const { batchSize, height, width } = opts;
    for (const [name, v] of Object.entries({ batchSize, height, width })) {
      if (!Number.isInteger(v) || v < 1) {
        throw new FprlError(`${name} must be a positive integer, got ${v}`, { where: `env '${id}'` });
      }
    }
    this.batchSize = batchSize;
    this.height = height;
    this.width = width;
    this.numClasses = opts.numClasses ?? NUM_CLASSES;
    this.ignoreIndex = opts.ignoreIndex ?? IGNORE_INDEX;
    this.rewardTimeoutMs = opts.rewardTimeoutMs ?? DEFAULT_REWARD_TIMEOUT_MS;
    this.bus = opts.bus ?? new EventBus();
    this.observationSpace = new Box([batchSize, height, width, 3], IMAGE_RANGE[0], IMAGE_RANGE[1]);
    this.actionSpace = new LabelMap([batchSize, height, width], this.numClasses);
    // A channel of its own: envs sharing a bus (train and eval) never get each other's rewards.
    this.channel = `${id}#${++envInstances}`;
    this.attachment = attachRewards(this.bus, opts.rewards ?? [...DEFAULT_REWARDS], {
      registry: opts.registry,
      channel: this.channel,
    });
    this.rewardRange = this.attachment.range;
  }

  /** Draw the next B contexts. */
  protected abstract observe(): Promise<Contexts>;
  /** Restart every random stream from `seed` (reset({ seed }) calls it before observing). */
  protected abstract seed(seed: number): void;

  /** The reward components as configured (names, plugins, weights, resolved options, ranges). */
  get rewardComponents() {
    return this.attachment.components;
  }

  async reset(opts: { seed?: number } = {}): Promise<{ observation: Observation; info: { ids: string[] } }> {
    this.assertOpen('reset');
    if (opts.seed !== undefined) {
      if (!Number.isFinite(opts.seed))
        throw new FprlError(`seed must be a number, got ${opts.seed}`, { where: `env '${this.id}'.reset` });
      this.seed(opts.seed);
    }
    const next = await this.observe();
    this.checkContexts(next);
    this.current?.images.dispose();
    this.current = next;
    return { observation: { images: next.images, ids: next.ids }, info: { ids: next.ids } };
  }

  /**
   * Score K label maps per context (`action`: [K*B*H*W] int32, sample-major). The contexts
   * may be scored any number of times before the next reset (a self-critical baseline also
   * scores the greedy labelling). Rejects with an FprlError naming the reward component when
   * a plugin throws, returns NaN or a value outside its range, or does not answer in time.
   */
  async step(action: Int32Array, opts: { pixelCredit?: PixelCreditKind } = {}): Promise<StepResult> {
    this.assertOpen('step');
    const ctx = this.current;
    if (!ctx) {
      throw new FprlError('step() called before reset()', {
        where: `env '${this.id}'`,
        hint: 'call reset() first',
      });
    }
    const K = this.checkAction(action);
    const B = this.batchSize;
    const n = B * this.height * this.width;
    let target = ctx.target;
    if (K > 1) {
      target = new Int32Array(K * n);
      for (let k = 0; k < K; k++) target.set(ctx.target, k * n);
    }
    const ids = ctx.ids;
    const answers = await requestRewards(
      this.bus,
      {
        requestId: nextRequestId(),
        envId: this.id,
        count: K * B,
        height: this.height,
        width: this.width,
        action,
        target,
        ids,
        pixelCredit: opts.pixelCredit,
        numClasses: this.numClasses,
        ignoreIndex: this.ignoreIndex,
        channel: this.channel,
      },
      this.attachment.components.map((c) => ({ name: c.name, plugin: c.plugin.name })),
      this.rewardTimeoutMs,
    );
    const reward = new Float32Array(K * B);
    const pixelReward = opts.pixelCredit ? new Float32Array(K * n) : undefined;
    const components: Record<string, Float32Array> = {};
    for (const c of this.attachment.components) {
      const a = answers.get(c.name)!;
      components[c.name] = a.values;
      const w = c.weight;
      const values = a.values;
      for (let i = 0; i < reward.length; i++) reward[i] += w * values[i];
      const pixel = a.pixel;
      if (pixelReward && pixel) for (let i = 0; i < pixelReward.length; i++) pixelReward[i] += w * pixel[i];
    }
    return { reward, pixelReward, components, terminated: true, truncated: false, info: { ids, samples: K } };
  }

  /** Ground-truth label maps [B*H*W] of the current contexts (ignoreIndex where nothing counts). */
  optimalAction(): Int32Array {
    this.assertOpen('optimalAction');
    if (!this.current) {
      throw new FprlError('optimalAction() called before reset()', {
        where: `env '${this.id}'`,
        hint: 'call reset() first',
      });
    }
    return this.current.target.slice();
  }

  /** Dispose the current observation and detach the reward components. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.current?.images.dispose();
    this.current = undefined;
    this.attachment.unsubscribe();
  }

  private assertOpen(what: string): void {
    if (this.closed)
      throw new FprlError(`${what}() on a closed env`, { where: `env '${this.id}'`, hint: 'make a new env' });
  }

  /** Number of samples per context K; throws naming the likely mistake. */
  private checkAction(action: Int32Array): number {
    const n = this.batchSize * this.height * this.width;
    const where = `env '${this.id}'.step`;
    if (!(action instanceof Int32Array)) {
      throw new FprlError(
        `action must be an Int32Array, got ${(action as unknown as object)?.constructor?.name ?? typeof action}`,
        {
          where,
          hint: 'pass labels from tensor.dataSync() of an int32 tensor, or Int32Array.from(...)',
        },
      );
    }
    if (action.length === 0 || action.length % n !== 0) {
      throw new FprlError(
        `action has ${action.length} labels; expected K x ${n} (K label maps of B=${this.batchSize} x H=${this.height} x W=${this.width}, sample-major)`,
        { where, hint: 'flatten [K,B,H,W] label maps row-major; for one sample per image K = 1' },
      );
    }
    const C = this.numClasses;
    for (let i = 0; i < action.length; i++) {
      const v = action[i];
      if (v < 0 || v >= C) {
        throw new FprlError(`action[${i}] = ${v} is not a class in [0, ${C})`, {
          where,
          hint: `actions are classes 0..${C - 1}; ${this.ignoreIndex} (ignore) marks targets only, never actions`,
        });
      }
    }
    return action.length / n;
  }

  /** A subclass's observe() broke the contract: a bug in the env, said plainly. */
  private checkContexts(c: Contexts): void {
    const want = [this.batchSize, this.height, this.width, 3];
    const shape = c.images.shape;
    const problems: string[] = [];
    if (shape.join() !== want.join()) problems.push(`images have shape [${shape}], expected [${want}]`);
    if (c.images.dtype !== 'float32') problems.push(`images are ${c.images.dtype}, expected float32`);
    if (c.target.length !== this.batchSize * this.height * this.width) {
      problems.push(
        `target has ${c.target.length} labels, expected ${this.batchSize * this.height * this.width}`,
      );
    }
    if (c.ids.length !== this.batchSize) problems.push(`${c.ids.length} ids for ${this.batchSize} images`);
    const bad = c.target.findIndex((t) => (t < 0 || t >= this.numClasses) && t !== this.ignoreIndex);
    if (bad >= 0) problems.push(`target[${bad}] = ${c.target[bad]} is neither a class nor the ignore index`);
    if (problems.length) {
      c.images.dispose();
      throw new FprlError(`observe() broke the env contract: ${problems.join('; ')}`, {
        where: `env '${this.id}'`,
        hint: 'fix the env subclass (or its dataset/sampler)',
      });
    }
  }
}

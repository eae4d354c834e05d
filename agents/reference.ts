/**
 * Reference agents, the floor of every comparison: `random` labels each pixel uniformly
 * (seeded), `majority` gives each pixel position its most frequent class in the training
 * labels (counted over `countBatches` training batches). Neither has a policy network.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Action, ActMode, Experience, LossInfo, Observation } from '../src/core/types.js';
import { Rng } from '../src/core/rng.js';
import { FprlError } from '../src/core/errors.js';
import { NUM_CLASSES } from '../src/core/classes.js';
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
import { argmaxRows } from './nets/sampling.js';

abstract class ReferenceAgent implements FprlAgent {
  abstract readonly kind: 'random' | 'majority';
  abstract readonly needs: AgentNeeds;
  readonly name: string;
  readonly numClasses: number;
  protected rng: Rng;
  updates = 0;
  plannedSteps = 0;

  constructor(
    readonly config: AgentConfig,
    ctx: AgentContext,
  ) {
    this.name = ctx.name ?? defaultAgentName(config);
    this.numClasses = ctx.numClasses ?? NUM_CLASSES;
    this.rng = ctx.rng;
  }

  abstract act(obs: Observation, mode: ActMode, samples?: number): Promise<Action>;
  abstract learn(exp: Experience): Promise<LossInfo>;

  protected stateJson(): Record<string, unknown> {
    return {};
  }
  protected async saveExtra(_dir: string): Promise<void> {}
  protected async loadExtra(_dir: string, _state: Record<string, unknown>): Promise<void> {}

  async save(dir: string): Promise<void> {
    await this.saveExtra(dir);
    await writeAgentFile(dir, {
      format: 'fprl-agent/1',
      kind: this.kind,
      name: this.name,
      config: this.config,
      updates: this.updates,
      rng: this.rng.getState(),
      state: this.stateJson(),
    });
  }

  async load(dir: string): Promise<void> {
    const file = await readAgentFile(dir, this.kind);
    await this.loadExtra(dir, file.state);
    this.updates = file.updates;
    this.rng = Rng.fromState(file.rng);
  }

  async initFrom(dir: string): Promise<void> {
    throw new FprlError(`the '${this.kind}' agent has no policy weights to initialise`, {
      where: `agent '${this.name}' initFrom ${dir}`,
      hint: 'initFrom applies to supervised and reinforce agents',
    });
  }

  dispose(): void {}
}

/** Uniform random labels per pixel, from the agent's seeded stream, in both modes. */
export class RandomAgent extends ReferenceAgent {
  readonly kind = 'random' as const;
  readonly needs: AgentNeeds = { target: false, reward: false, greedyReward: false, samples: 1 };

  constructor(config: AgentConfig, ctx: AgentContext) {
    super(config, ctx);
  }

  async act(obs: Observation, mode: ActMode, samples = 1): Promise<Action> {
    const [B, H, W] = obs.images.shape;
    const k = mode === 'greedy' ? 1 : samples;
    const labels = new Int32Array(k * B * H * W);
    for (let i = 0; i < labels.length; i++) labels[i] = this.rng.int(0, this.numClasses);
    return { labels, samples: k };
  }

  async learn(): Promise<LossInfo> {
    return {};
  }
}

/** Each pixel position's most frequent training class (ties: lower class; no counts yet: background). */
export class MajorityAgent extends ReferenceAgent {
  readonly kind = 'majority' as const;
  readonly needs: AgentNeeds = { target: true, reward: false, greedyReward: false, samples: 1 };
  /** [H*W*C] label counts per position, once the size is known. */
  counts: Float64Array | undefined;
  height = 0;
  width = 0;
  private mode: Int32Array | undefined;

  constructor(config: AgentConfig, ctx: AgentContext) {
    super(config, ctx);
  }

  /** Count the batch's labels (ignore label skipped), for the first `countBatches` batches. */
  async learn(exp: Experience): Promise<LossInfo> {
    if (!exp.target) {
      throw new FprlError('the majority agent needs ground truth in the experience (`target`)', {
        where: `agent '${this.name}'`,
        hint: 'pass env.optimalAction() as `target` (the trainer does)',
      });
    }
    if (this.updates >= this.config.countBatches) return { 'majority/batches': this.updates };
    const [, H, W] = exp.observation.images.shape;
    const counts = this.countsFor(H, W);
    const P = H * W;
    const C = this.numClasses;
    const t = exp.target;
    for (let i = 0; i < t.length; i++) {
      const c = t[i];
      if (c >= 0 && c < C) counts[(i % P) * C + c]++;
    }
    this.mode = undefined;
    this.updates++;
    return { 'majority/batches': this.updates };
  }

  private countsFor(H: number, W: number): Float64Array {
    if (!this.counts) {
      this.counts = new Float64Array(H * W * this.numClasses);
      this.height = H;
      this.width = W;
    }
    if (H !== this.height || W !== this.width) {
      throw new FprlError(
        `images are ${H}x${W}, the majority counts were made at ${this.height}x${this.width}`,
        {
          where: `agent '${this.name}'`,
          hint: 'train and evaluate the majority agent at one image size',
        },
      );
    }
    return this.counts;
  }

  async act(obs: Observation, mode: ActMode, samples = 1): Promise<Action> {
    const [B, H, W] = obs.images.shape;
    const k = mode === 'greedy' ? 1 : samples;
    const P = H * W;
    const counts = this.countsFor(H, W);
    this.mode ??= argmaxRows(counts, this.numClasses);
    const labels = new Int32Array(k * B * P);
    for (let j = 0; j < k * B; j++) labels.set(this.mode, j * P);
    return { labels, samples: k };
  }

  protected override stateJson(): Record<string, unknown> {
    return { height: this.height, width: this.width };
  }

  protected override async saveExtra(dir: string): Promise<void> {
    if (!this.counts) return;
    const t = tf.tensor3d(Float32Array.from(this.counts), [this.height, this.width, this.numClasses]);
    try {
      await writeTensors(dir, 'counts', [{ name: 'counts', tensor: t }]);
    } finally {
      t.dispose();
    }
  }

  protected override async loadExtra(dir: string, state: Record<string, unknown>): Promise<void> {
    this.counts = undefined;
    this.mode = undefined;
    const H = state.height as number;
    const W = state.width as number;
    if (!H || !W) return;
    try {
      await fs.access(path.join(dir, 'counts.json'));
    } catch {
      return;
    }
    const [named] = await readTensors(dir, 'counts');
    try {
      if (named.tensor.size !== H * W * this.numClasses) {
        throw new FprlError(
          `counts hold ${named.tensor.size} values, expected ${H}x${W}x${this.numClasses}`,
          {
            where: path.join(dir, 'counts.json'),
            hint: 'the saved agent is corrupted or for another number of classes',
          },
        );
      }
      this.counts = Float64Array.from(named.tensor.dataSync());
      this.height = H;
      this.width = W;
    } finally {
      named.tensor.dispose();
    }
  }
}

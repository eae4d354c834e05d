/**
 * The contracts every part of the framework meets. Shapes are written in the names'
 * docs: `[B,H,W,3]` means batch, height, width, channels. Label maps are flat row-major
 * Int32Arrays of length B*H*W unless a tensor is said.
 */
import type * as tf from '@tensorflow/tfjs';
import type { JSONSchemaType } from 'ajv';
import type { Observable } from 'rxjs';
import type { Rng } from './rng.js';

// ---------------------------------------------------------------- data

/** One labelled face. */
export interface Sample {
  id: string;
  /** [H,W,3] float32, normalised by `normalizeImage` in src/data (the one place that defines it). */
  image: Float32Array;
  /** [H,W] class per pixel, 0..10 or 255 (ignore). */
  label: Uint8Array;
  height: number;
  width: number;
}

/** A sample's label at its own stored resolution (before any resize to the model's size). */
export interface NativeLabel {
  /** [height*width] class per pixel, 0..10 or 255 (ignore). */
  label: Uint8Array;
  height: number;
  width: number;
  /** Size of the photo the label belongs to (a CelebAMask-HQ photo is 1024 px for a 512 px mask). */
  imageHeight: number;
  imageWidth: number;
}

/** A finite, indexable set of faces. `get` is deterministic for an index. */
export interface Dataset {
  readonly name: string;
  readonly length: number;
  readonly classNames: readonly string[];
  /** Every sample has this size (readers resize). */
  readonly height: number;
  readonly width: number;
  get(index: number): Promise<Sample>;
  /**
   * The label of sample `index` at its native resolution, read on demand (nothing is held
   * between calls), for scoring at the label's own size (the LaPa protocol). Absent: the
   * labels `get` returns are native (synthetic faces are rendered at the model's size).
   */
  native?(index: number): Promise<NativeLabel>;
}

/** A batch as tensors (owned by the receiver, who disposes them). */
export interface Batch {
  ids: string[];
  /** [B,H,W,3] float32 */
  images: tf.Tensor4D;
  /** [B,H,W] int32, 255 = ignore */
  labels: tf.Tensor3D;
}

// ---------------------------------------------------------------- environment

export interface Observation {
  /** [B,H,W,3] float32; owned by the env until the next reset or close. */
  images: tf.Tensor4D;
  ids: string[];
}

export interface StepResult {
  /** [K*B] combined per-image reward (K = samples per context, sample-major). */
  reward: Float32Array;
  /** [K*B*H*W] per-pixel credit, when a plugin gives it and it was asked for. */
  pixelReward?: Float32Array;
  /** Per plugin (component name), unweighted, [K*B]. */
  components: Record<string, Float32Array>;
  terminated: true;
  truncated: false;
  info: { ids: string[]; samples: number };
}

export interface ResetOptions {
  seed?: number;
}

export interface Env {
  readonly id: string;
  readonly observationSpace: import('./spaces.js').Space<Float32Array>;
  readonly actionSpace: import('./spaces.js').Space<Int32Array>;
  /** [min, max] of the combined reward. */
  readonly rewardRange: readonly [number, number];
  reset(opts?: ResetOptions): Promise<{ observation: Observation; info: { ids: string[] } }>;
  /**
   * Score label maps for the current contexts. `action` holds K label maps per context,
   * sample-major: length K*B*H*W (K >= 1). The episode ends after one step.
   */
  step(action: Int32Array, opts?: { pixelCredit?: 'pixel' | 'difference' }): Promise<StepResult>;
  /** Ground-truth label maps [B*H*W] of the current contexts (255 = ignore). */
  optimalAction(): Int32Array;
  close(): void;
}

// ---------------------------------------------------------------- rewards

export interface RewardContext {
  /** Image size of the flat label maps. */
  height: number;
  width: number;
  numClasses: number;
  ignoreIndex: number;
}

/**
 * Per-pixel credit: `pixel` is dense correctness-like credit; `difference` is, per pixel, the
 * change of the image-level reward if that pixel alone took its true label.
 */
export type PixelCreditKind = 'pixel' | 'difference';

/**
 * A reward plugin: a plain object from a factory. `compute` scores one image's labelling.
 * It may answer asynchronously with a Promise or an Observable (its first value is taken):
 * a reward model in a worker, a remote scorer.
 */
export interface RewardPlugin<Opts = unknown> {
  /** Unique registry key, used by name in experiment JSON. */
  name: string;
  description: string;
  /** ajv schema of the options; defaults live here (ajv `useDefaults`). */
  optionsSchema: JSONSchemaType<Opts> | Record<string, unknown>;
  /** Declared [min, max]; a value outside fails the step with the plugin's name. */
  range: readonly [number, number];
  compute(
    pred: Int32Array,
    target: Int32Array,
    ctx: RewardContext,
    opts: Opts,
  ): number | PromiseLike<number> | Observable<number>;
  /** Optional per-pixel credit of one image ([H*W]) of a kind listed in `credit`. */
  pixelCredit?(
    pred: Int32Array,
    target: Int32Array,
    ctx: RewardContext,
    opts: Opts,
    kind: PixelCreditKind,
  ): Float32Array;
  /** The kinds `pixelCredit` gives (required with `pixelCredit` by `defineReward`). */
  credit?: readonly PixelCreditKind[];
  /** The range for these options when it depends on them (e.g. a weighted composite); else `range`. */
  rangeFor?(opts: Opts): readonly [number, number];
  /** Checks beyond the schema (e.g. names of other plugins), run once when a component is attached. */
  check?(opts: Opts): void;
}

/** One reward component of an env: a registered plugin by name, its options and its weight. */
export interface RewardSpec {
  /** Component name, unique within the env; the key of `StepResult.components`. */
  name: string;
  /** Registered plugin name (`fprl rewards list`). */
  plugin: string;
  /** Weight in the combined reward (`StepResult.reward` = sum of weight * component). */
  weight: number;
  /** Plugin options, validated by the plugin's schema (defaults filled in). */
  options?: Record<string, unknown>;
}

// ---------------------------------------------------------------- agents

export type ActMode = 'sample' | 'greedy';

export interface Action {
  /** [K*B*H*W] int32 label maps, sample-major. */
  labels: Int32Array;
  samples: number;
}

export interface Experience {
  observation: Observation;
  /** Present for RL agents: what was done and how it scored. */
  action?: Action;
  result?: StepResult;
  /** Ground truth [B*H*W] (supervised targets; regret). */
  target?: Int32Array;
  /** For self-critical: the reward of the greedy labelling, [B]. */
  greedyReward?: Float32Array;
}

/** Plain numbers only: losses, entropy, gradient norm... namespaced like `losses/policy`. */
export type LossInfo = Record<string, number>;

export interface Agent {
  readonly name: string;
  act(obs: Observation, mode: ActMode, samples?: number): Promise<Action>;
  /**
   * Greedy per-pixel class scores [B,H,W,C] (dropout off) whose argmax is `act(obs, 'greedy')`;
   * the caller disposes the tensor. Evaluation resizes them to each label's own size before
   * the argmax. Absent (reference agents): labels are resized nearest-neighbour instead.
   */
  logits?(obs: Observation): Promise<tf.Tensor4D>;
  learn(exp: Experience): Promise<LossInfo>;
  save(dir: string): Promise<void>;
  load(dir: string): Promise<void>;
  dispose(): void;
}

/** A network mapping images to per-pixel logits (the Face Transformer, or a tiny test policy). */
/** What a policy network is, in plain data: a registered kind and its config (agents/nets/registry.ts rebuilds it). */
export interface PolicyArchitecture {
  kind: string;
  config: unknown;
}

export interface PolicyNet {
  readonly numClasses: number;
  /**
   * The network's kind and config, so that another thread can build a replica through the
   * policy-network registry; absent: the network cannot be replicated (one thread only).
   */
  architecture?(): PolicyArchitecture;
  /**
   * images [B,H,W,3] -> logits [B,H,W,C]; `pooled` [B,D] (mean of final tokens) for value heads.
   * `training` turns dropout on; `rng` seeds it.
   */
  apply(
    images: tf.Tensor4D,
    opts?: { training?: boolean; rng?: Rng },
  ): { logits: tf.Tensor4D; pooled: tf.Tensor2D };
  readonly trainableVariables: tf.Variable[];
  /**
   * The [C] bias added to every pixel's logits, when the network has one (the Face Transformers'
   * `head/bias`): what `initLogitAdjustment` shifts. Absent: the network has no such bias.
   */
  classBias?(): tf.Variable | undefined;
  dispose(): void;
}

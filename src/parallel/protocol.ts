/**
 * Messages between the main thread and a gradient worker (structured clone). Weights and
 * gradients do not travel in messages: they live in SharedArrayBuffers laid out as every
 * variable's values one after the other, in `policy.trainableVariables` order.
 */
import type { RngState } from '../core/rng.js';
import type { PolicySpec } from './spec.js';
import type { ForwardMode, ValueTerm } from './loss.js';

export interface InitMessage {
  type: 'init';
  spec: PolicySpec;
  /** tfjs backend to compute on (the main thread's). */
  backend: string;
  /** Weights of every variable, written by the main thread before a call that needs them. */
  weights: SharedArrayBuffer;
  /** This worker's gradient output, same layout. */
  grads: SharedArrayBuffer;
  /** Element counts of the main thread's variables (a replica must match them). */
  sizes: number[];
}

interface ShardInput {
  id: number;
  /** Version of the weights in the shared buffer; a worker reloads when it differs from its own. */
  version: number;
  /** The shard's images [b,H,W,3]. */
  images: Float32Array;
  shape: [number, number, number, number];
}

export interface GradMessage extends ShardInput {
  type: 'grad';
  /** The shard's loss (loss.ts `LossSpec`): its weights [b,H,W,C], normaliser, entropy coefficient. */
  weights: Float32Array;
  normalizer: number;
  entropyCoef?: number;
  /** The critic's term for this shard's images (REINFORCE with the critic baseline). */
  value?: ValueTerm;
  /** The value head's kernel [D] and bias, as on the main thread (with `value`). */
  head?: { kernel: Float32Array; bias: number };
  /** The shard's fraction of the batch's images. */
  share: number;
  /** Dropout stream of this shard (training only). */
  rng?: RngState;
  /**
   * The id of this worker's forward message whose kept pass to differentiate (same images and
   * weights: the pool checked); absent, or another id: the worker frees any kept pass and runs the forward.
   */
  keptId?: number;
}

export interface ForwardMessage extends ShardInput {
  type: 'forward';
  mode: ForwardMode;
  /** Also return the pooled features [b*D] (for the critic). */
  pooled?: boolean;
  /** `sample`: the shard's draws [k*b*H*W] and k. */
  uniforms?: Float64Array;
  samples?: number;
  /** Keep the pass for the next grad message (replacing any kept before). */
  keep?: boolean;
}

export type ToWorker = InitMessage | GradMessage | ForwardMessage | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; sizes: number[] }
  | {
      type: 'grad';
      id: number;
      /** The shard's loss and statistics (loss.ts `LossResult`); its gradients are in the shared buffer. */
      loss: number;
      policyTerm: number;
      entropy: number;
      valueLoss?: number;
      /** The value head's gradients [D kernel, 1 bias], when the message had a value term. */
      headGrads?: Float32Array;
    }
  | { type: 'forward'; id: number; out: Int32Array; pooled?: Float32Array }
  | { type: 'error'; id?: number; message: string; stack?: string };

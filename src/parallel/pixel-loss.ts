/**
 * The loss both data-parallel agents train with, written so that it splits over images:
 *
 *   loss = -scale * sum_{b,p,c} W_bpc log softmax(z_bp)_c  -  entropyCoef * sum_{b,p} H(pi_bp) / pixels
 *
 * `W` [B,H,W,C] is built on the main thread from the whole batch (cross-entropy targets over their
 * total weight, or REINFORCE's advantage-weighted one-hots, already normalised by K*B*H*W) and
 * `pixels` is the whole batch's B*H*W. Every term is a sum over images, so the loss of a batch is
 * the sum of its shards' losses and the gradient the sum of theirs: exact up to float summation
 * order. Used by the main thread for its own shard and by every worker for theirs.
 */
import * as tf from '@tensorflow/tfjs';
import type { PolicyNet } from '../types.js';
import type { Rng } from '../rng.js';
import { sampleFrom } from '../../agents/nets/sampling.js';

export interface PixelLossSpec {
  /** Multiplies -sum(W * logp): 1 / (total target weight) for cross-entropy, 1 for REINFORCE. */
  scale: number;
  /** Entropy bonus coefficient (0: the entropy is only measured). */
  entropyCoef: number;
  /** Pixels of the whole batch (B*H*W), the entropy's normaliser. */
  pixels: number;
  /** Dropout on (the supervised agent); needs an rng. */
  training: boolean;
}

/**
 * The critic's term (REINFORCE with the `critic` baseline): valueCoef * mean over the K*B
 * (sample, image) pairs of (V(x_b) - target_kb)^2, V = pooled . kernel + bias (agents/value-head.ts).
 * It is a sum over images too, so each shard adds `scale` times its images' squared errors.
 */
export interface ValueLossSpec {
  /** The value head's kernel [D] and bias, as on the main thread. */
  kernel: Float32Array;
  bias: number;
  /** Samples per image. */
  K: number;
  /** Regression targets [K*b] of the shard's b images, sample-major (k*b + j). */
  targets: Float32Array;
  /** valueCoef / (K*B) for the whole batch's B images. */
  scale: number;
}

/** One shard's contribution: gradients in variable order and the sums the statistics need. */
export interface ShardGradients {
  grads: tf.Tensor[];
  /** sum(W * logp) over the shard. */
  sumWlogp: number;
  /** Sum of the per-pixel entropies (nats) over the shard. */
  sumEntropy: number;
  /** With a value term: the value head's gradients [D kernel, 1 bias] and the sum of squared errors. */
  value?: { grads: Float32Array; sumSq: number };
}

/**
 * Gradients of the shard's loss with respect to `policy.trainableVariables` (caller disposes
 * them). `weights` is [b,H,W,C] for the shard's b images.
 */
export function pixelLossGradients(
  policy: PolicyNet,
  images: tf.Tensor4D,
  weights: Float32Array,
  spec: PixelLossSpec,
  rng?: Rng,
  valueSpec?: ValueLossSpec,
): ShardGradients {
  const policyVars = policy.trainableVariables;
  const [b, H, W] = images.shape;
  let stats: tf.Tensor | undefined;
  const tW = tf.tensor4d(weights, [b, H, W, policy.numClasses]);
  // A replica of the value head for this call (its gradients are read back, never applied here).
  const head = valueSpec
    ? tf.tidy(() => ({
        kernel: tf.variable(tf.tensor2d(valueSpec.kernel, [valueSpec.kernel.length, 1]), true),
        bias: tf.variable(tf.tensor1d([valueSpec.bias]), true),
      }))
    : undefined;
  const vars = head ? [...policyVars, head.kernel, head.bias] : policyVars;
  try {
    const { value, grads } = tf.variableGrads(() => {
      const { logits, pooled } = policy.apply(images, { training: spec.training, rng });
      const logp = tf.logSoftmax(logits);
      const sumWlogp = tf.sum(tf.mul(tW, logp));
      const sumEntropy = tf.neg(tf.sum(tf.mul(tf.exp(logp), logp)));
      let loss = tf.mul(sumWlogp, -spec.scale);
      if (spec.entropyCoef !== 0) loss = tf.sub(loss, tf.mul(sumEntropy, spec.entropyCoef / spec.pixels));
      let sumSq: tf.Scalar = tf.scalar(0);
      if (head && valueSpec) {
        // The same ops as ValueHead.apply, then the squared errors against every sample's target.
        const v = pooled.matMul(head.kernel).reshape([-1]).add(head.bias);
        const targets = tf.tensor2d(valueSpec.targets, [valueSpec.K, b]);
        sumSq = tf.sum(tf.square(tf.sub(v.reshape([1, b]), targets)));
        loss = tf.add(loss, tf.mul(sumSq, valueSpec.scale));
      }
      stats = tf.keep(tf.stack([sumWlogp, sumEntropy, sumSq]));
      return loss as tf.Scalar;
    }, vars);
    value.dispose();
    const [sumWlogp, sumEntropy, sumSq] = stats!.dataSync();
    const out: ShardGradients = {
      grads: policyVars.map((v) => grads[v.name] ?? tf.zerosLike(v)),
      sumWlogp,
      sumEntropy,
    };
    if (head) {
      const hg = new Float32Array(head.kernel.size + 1);
      hg.set(grads[head.kernel.name].dataSync() as Float32Array);
      hg[head.kernel.size] = grads[head.bias.name].dataSync()[0];
      tf.dispose([grads[head.kernel.name], grads[head.bias.name]]);
      out.value = { grads: hg, sumSq };
    }
    return out;
  } finally {
    tW.dispose();
    stats?.dispose();
    if (head) tf.dispose([head.kernel, head.bias]);
  }
}

/**
 * What a forward pass without gradients returns: argmax labels [b*H*W], or `sample`: k
 * labellings [k*b*H*W] (sample-major) drawn with the given uniforms.
 */
export type ForwardMode = 'argmax' | 'sample';

export interface ForwardOptions {
  /** Also return the pooled features [b*D] (the critic's input). */
  pooled?: boolean;
  /** `sample`: the draws [k*b*H*W] of this shard's pixels (draw j of pixel i at j*b*H*W + i). */
  uniforms?: Float64Array;
  /** `sample`: labellings per image. */
  samples?: number;
}

/** A shard's forward pass: `out` per the mode, and the pooled features [b*D] when asked for. */
export function forwardShard(
  policy: PolicyNet,
  images: tf.Tensor4D,
  mode: ForwardMode,
  opts: ForwardOptions = {},
): { out: Int32Array; pooled?: Float32Array } {
  const [t, p] = tf.tidy(() => {
    const { logits, pooled } = policy.apply(images, { training: false });
    return [
      mode === 'argmax' ? tf.argMax(logits, -1) : tf.softmax(logits),
      opts.pooled ? pooled : tf.scalar(0),
    ];
  });
  try {
    let out: Int32Array;
    if (mode === 'argmax') out = Int32Array.from(t.dataSync() as Int32Array);
    else {
      if (!opts.uniforms || !opts.samples) throw new Error('forwardShard: sample needs uniforms and samples');
      out = sampleFrom(t.dataSync() as Float32Array, policy.numClasses, opts.samples, opts.uniforms);
    }
    return opts.pooled ? { out, pooled: Float32Array.from(p.dataSync() as Float32Array) } : { out };
  } finally {
    tf.dispose([t, p]);
  }
}

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

/** One shard's contribution: gradients in variable order and the sums the statistics need. */
export interface ShardGradients {
  grads: tf.Tensor[];
  /** sum(W * logp) over the shard. */
  sumWlogp: number;
  /** Sum of the per-pixel entropies (nats) over the shard. */
  sumEntropy: number;
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
): ShardGradients {
  const vars = policy.trainableVariables;
  const [b, H, W] = images.shape;
  let stats: tf.Tensor | undefined;
  const tW = tf.tensor4d(weights, [b, H, W, policy.numClasses]);
  try {
    const { value, grads } = tf.variableGrads(() => {
      const { logits } = policy.apply(images, { training: spec.training, rng });
      const logp = tf.logSoftmax(logits);
      const sumWlogp = tf.sum(tf.mul(tW, logp));
      const sumEntropy = tf.neg(tf.sum(tf.mul(tf.exp(logp), logp)));
      stats = tf.keep(tf.stack([sumWlogp, sumEntropy]));
      let loss = tf.mul(sumWlogp, -spec.scale);
      if (spec.entropyCoef !== 0) loss = tf.sub(loss, tf.mul(sumEntropy, spec.entropyCoef / spec.pixels));
      return loss as tf.Scalar;
    }, vars);
    value.dispose();
    const [sumWlogp, sumEntropy] = stats!.dataSync();
    return { grads: vars.map((v) => grads[v.name] ?? tf.zerosLike(v)), sumWlogp, sumEntropy };
  } finally {
    tW.dispose();
    stats?.dispose();
  }
}

/** What a forward pass without gradients returns: softmax probabilities [b*H*W*C] or argmax labels [b*H*W]. */
export type ForwardMode = 'probs' | 'argmax';

export function forwardShard(
  policy: PolicyNet,
  images: tf.Tensor4D,
  mode: ForwardMode,
): Float32Array | Int32Array {
  const t = tf.tidy(() => {
    const { logits } = policy.apply(images, { training: false });
    return mode === 'probs' ? tf.softmax(logits) : tf.argMax(logits, -1);
  });
  try {
    return mode === 'probs'
      ? Float32Array.from(t.dataSync() as Float32Array)
      : Int32Array.from(t.dataSync() as Int32Array);
  } finally {
    t.dispose();
  }
}

/**
 * The one loss every policy learner trains with, described in plain numbers by the agent and
 * turned into a loss and gradients here, on one thread or on every shard of a data-parallel pool:
 *
 *   loss = -sum_{b,p,c} W_bpc log softmax(z_bp)_c / normalizer         (policy term)
 *          - entropyCoef * mean_{b,p} H(pi_bp)                           (entropy bonus, optional)
 *          + valueCoef * mean_{k,b} (V(x_b) - target_kb)^2               (critic, optional)
 *
 * `W` [B,H,W,C] is built by the agent from the whole batch: cross-entropy's (smoothed, weighted)
 * one-hot targets with normalizer = their total weight, or REINFORCE's advantage-weighted
 * one-hots already divided by K*B*H*W (normalizer 1). Every term is a sum over images, so a
 * shard of b of the batch's B images computes its part (the means scaled by b/B) and the batch's
 * gradient is the sum of its shards' gradients: exact up to float summation order, and bit for
 * bit the single-thread computation when the pool has one shard (the scales are then exactly 1).
 */
import * as tf from '@tensorflow/tfjs';
import type { PolicyNet } from '../core/types.js';
import type { Rng } from '../core/rng.js';
import { sampleFrom } from '../../agents/nets/sampling.js';
import { canFuse, FUSED } from '../native/fused.js';
import { canKeepForward, KeptForward } from './kept-forward.js';

/** A shard's forward pass kept for its backward ({@link forwardShard} with `keep`): logits and pooled features. */
export type KeptPass = KeptForward<[tf.Tensor4D, tf.Tensor2D]>;

/** The critic's term: valueCoef * mean over the K*B (sample, image) pairs of (V(x_b) - target_kb)^2. */
export interface ValueTerm {
  /** Regression targets [K*B], sample-major (k*B + b). */
  targets: Float32Array;
  /** Samples per image. */
  K: number;
  /** The term's weight in the loss. */
  coef: number;
}

/** What an agent's loss is, in plain numbers: built once per batch, run by {@link shardLoss} on every shard. */
export interface LossSpec {
  /** [B,H,W,C] weights of the log-probabilities. */
  weights: Float32Array;
  /** The policy term is -sum(W * logp) / normalizer (1: W is already normalised). */
  normalizer: number;
  /** Entropy bonus coefficient; undefined: the entropy is only measured, not in the loss. */
  entropyCoef?: number;
  /** The critic's term (needs the agent's value head). */
  value?: ValueTerm;
  /** Dropout on, seeded by this stream (cross-entropy); undefined: dropout off (REINFORCE differentiates the sampled policy). */
  dropout?: Rng;
}

/** The value head V = pooled . kernel + bias (agents/value-head.ts), as variables: the agent's own or a worker's replica. */
export interface HeadVariables {
  /** [D,1] */
  kernel: tf.Variable;
  /** [1] */
  bias: tf.Variable;
}

/** One shard's (or the whole batch's) result. */
export interface LossResult {
  /** Gradients of the policy's variables, then the head's (when there is a value term); caller disposes. */
  grads: tf.Tensor[];
  /** The loss (the shard's part of it). */
  loss: number;
  /** The policy term -sum(W * logp) / normalizer (the shard's part). */
  policyTerm: number;
  /** Mean per-pixel entropy (nats) over the shard's pixels. */
  entropy: number;
  /** Mean squared error of the critic over the shard's K*b pairs (with a value term). */
  valueLoss?: number;
}

/**
 * The loss of `logits` [b,H,W,C] (and `pooled` [b,D] with a value term) for a shard holding the
 * fraction `share` of the batch's images, with `spec` the shard's own (its rows of W and of the
 * targets): the training path's arithmetic, which the estimator tests differentiate too. Returns
 * the loss and the statistics [policy term, mean entropy, value loss] as tensors.
 */
export function pixelLoss(
  logits: tf.Tensor4D,
  pooled: tf.Tensor2D | undefined,
  spec: LossSpec,
  share = 1,
  head?: HeadVariables,
): { loss: tf.Scalar; stats: tf.Tensor1D } {
  const [b, H, W, C] = logits.shape;
  let valueLoss: tf.Scalar | undefined;
  if (spec.value) {
    if (!head || !pooled)
      throw new Error('pixelLoss: a value term needs the pooled features and the value head');
    // The same ops as ValueHead.apply, then the squared errors against every sample's target.
    const v = pooled.matMul(head.kernel).reshape([-1]).add(head.bias);
    const targets = tf.tensor2d(spec.value.targets, [spec.value.K, b]);
    valueLoss = tf.mean(tf.square(tf.sub(v.reshape([1, b]), targets))) as tf.Scalar;
  }
  const tW = tf.tensor4d(spec.weights, [b, H, W, C]);
  const { policyTerm, entropy } =
    canFuse(FUSED.pixelLoss) && logits.dtype === 'float32'
      ? fusedPolicyTerms(logits, tW, spec.normalizer)
      : policyTerms(logits, tW, spec.normalizer);
  // A shard's means count for its share of the batch; with one shard the scale is exactly 1.
  let loss = policyTerm;
  if (spec.entropyCoef !== undefined) loss = tf.sub(loss, tf.mul(entropy, spec.entropyCoef * share));
  if (valueLoss && spec.value) loss = tf.add(loss, tf.mul(valueLoss, spec.value.coef * share));
  const stats = tf.stack([policyTerm, entropy, valueLoss ?? tf.scalar(0)]) as tf.Tensor1D;
  return { loss, stats };
}

/** The policy term -sum(W * logp) / normalizer and the mean per-pixel entropy, from tfjs ops (every backend; the fused kernel's reference). */
export function policyTerms(
  logits: tf.Tensor4D,
  tW: tf.Tensor4D,
  normalizer: number,
): { policyTerm: tf.Scalar; entropy: tf.Scalar } {
  const logp = tf.logSoftmax(logits);
  let policyTerm = tf.neg(tf.sum(tf.mul(tW, logp))) as tf.Scalar;
  if (normalizer !== 1) policyTerm = tf.div(policyTerm, normalizer);
  const entropy = tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1)).mean() as tf.Scalar;
  return { policyTerm, entropy };
}

/**
 * {@link policyTerms} as one native kernel forward and one backward (src/native/fused.cc) where
 * they run: the log-softmax, the weighted sum and the entropy in one pass over the logits (sums in
 * float64), and the gradient of both terms in one more, instead of ~25 tfjs kernels over
 * [b,H,W,C]. W is a constant: only the logits get a gradient.
 */
export function fusedPolicyTerms(
  logits: tf.Tensor4D,
  tW: tf.Tensor4D,
  normalizer: number,
): { policyTerm: tf.Scalar; entropy: tf.Scalar } {
  const terms = tf.customGrad((...args) => {
    const [z, save] = args as [tf.Tensor4D, tf.GradSaveFunc];
    const [stats, lse] = tf
      .engine()
      .runKernel(FUSED.pixelLoss, { logits: z, w: tW }, { normalizer }) as tf.Tensor[];
    save([z, tW, lse]);
    return {
      value: stats,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [zs, w, l] = saved;
        return tf
          .engine()
          .runKernel(FUSED.pixelLossGrad, { dy, logits: zs, w, lse: l }, { normalizer }) as tf.Tensor;
      },
    };
  }) as (z: tf.Tensor4D) => tf.Tensor1D;
  const [policyTerm, entropy] = tf.unstack(terms(logits)) as tf.Scalar[];
  return { policyTerm, entropy };
}

/**
 * The spec of the shard of `count` images from image `start` out of a batch of `batch`: its rows
 * of W (`perImage` = H*W*C values each; a view) and of the critic's targets; the whole spec when the shard is the batch.
 */
export function shardSpec(
  spec: LossSpec,
  start: number,
  count: number,
  batch: number,
  perImage: number,
): LossSpec {
  if (start === 0 && count === batch) return spec;
  const weights = spec.weights.subarray(start * perImage, (start + count) * perImage);
  let value: ValueTerm | undefined;
  if (spec.value) {
    const targets = new Float32Array(spec.value.K * count);
    for (let k = 0; k < spec.value.K; k++) {
      const from = k * batch + start;
      targets.set(spec.value.targets.subarray(from, from + count), k * count);
    }
    value = { ...spec.value, targets };
  }
  return { ...spec, weights, value };
}

/**
 * Gradients of the shard's loss with respect to the policy's variables (and the head's, given a
 * value term), the loss value and the statistics. `images` are the shard's [b,H,W,3], `spec` its
 * own ({@link shardSpec}) and `share` its fraction of the batch's images.
 */
export function shardLoss(
  policy: PolicyNet,
  images: tf.Tensor4D,
  spec: LossSpec,
  share = 1,
  head?: HeadVariables,
  kept?: KeptPass,
): LossResult {
  if (kept) {
    if (spec.dropout === undefined && kept.current) return keptShardLoss(policy, kept, spec, share, head);
    // Dropout on, or weights assigned since the pass: it is not this loss's forward pass.
    kept.dispose();
  }
  const policyVars = policy.trainableVariables;
  const vars = head && spec.value ? [...policyVars, head.kernel, head.bias] : policyVars;
  let stats: tf.Tensor | undefined;
  try {
    const { value, grads } = tf.variableGrads(() => {
      const { logits, pooled } = policy.apply(images, {
        training: spec.dropout !== undefined,
        rng: spec.dropout,
      });
      const r = pixelLoss(logits, pooled, spec, share, head);
      stats = tf.keep(r.stats);
      return r.loss;
    }, vars);
    return lossResult(value, stats!, spec, vars.map((v) => grads[v.name] ?? tf.zerosLike(v)));
  } finally {
    stats?.dispose();
  }
}

/**
 * {@link shardLoss} on a kept forward pass (dropout off, the pass the labels were sampled from):
 * the loss's gradients with respect to the logits (and the pooled features and the head, with a
 * value term), then the kept pass's backward. The same gradients, bit for bit, without running
 * the forward pass again. Frees the kept pass.
 */
function keptShardLoss(
  policy: PolicyNet,
  kept: KeptPass,
  spec: LossSpec,
  share: number,
  head: HeadVariables | undefined,
): LossResult {
  const policyVars = policy.trainableVariables;
  const [logits, pooled] = kept.outputs;
  const withValue = head !== undefined && spec.value !== undefined;
  const xs: tf.Tensor[] = withValue ? [logits, pooled, head.kernel, head.bias] : [logits];
  let stats: tf.Tensor | undefined;
  let outer: tf.Tensor[] = [];
  try {
    const { value, grads } = tf.engine().gradients(() => {
      const r = pixelLoss(logits, pooled, spec, share, head);
      stats = tf.keep(r.stats);
      return r.loss;
    }, xs);
    outer = grads;
    const inner = kept.backward([grads[0], withValue ? grads[1] : null], policyVars);
    const all = policyVars.map((v, i) => inner[i] ?? tf.zerosLike(v));
    if (withValue) all.push(grads[2], grads[3]);
    outer = withValue ? grads.slice(0, 2) : grads;
    return lossResult(value, stats!, spec, all);
  } finally {
    kept.dispose();
    tf.dispose(outer);
    stats?.dispose();
  }
}

/** The result of a shard from its loss value, statistics and gradients (the value and statistics are read and disposed). */
function lossResult(value: tf.Scalar, stats: tf.Tensor, spec: LossSpec, grads: tf.Tensor[]): LossResult {
  const loss = value.dataSync()[0];
  value.dispose();
  const [policyTerm, entropy, valueLoss] = stats.dataSync();
  return { grads, loss, policyTerm, entropy, ...(spec.value ? { valueLoss } : {}) };
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
  /**
   * Keep the pass (its tape) for the learning step's backward ({@link shardLoss} with `kept`),
   * when no other gradient computation is running; the result's `kept` then belongs to the caller.
   */
  keep?: boolean;
}

/** A shard's forward pass: `out` per the mode, the pooled features [b*D] when asked for, the kept pass when asked for. */
export function forwardShard(
  policy: PolicyNet,
  images: tf.Tensor4D,
  mode: ForwardMode,
  opts: ForwardOptions = {},
): { out: Int32Array; pooled?: Float32Array; kept?: KeptPass } {
  const kept: KeptPass | undefined =
    opts.keep && canKeepForward()
      ? KeptForward.record(() => {
          const r = policy.apply(images, { training: false });
          return [r.logits, r.pooled] as [tf.Tensor4D, tf.Tensor2D];
        }, policy.trainableVariables)
      : undefined;
  // The same kernels either way: a kept pass only also records its tape.
  const [t, p] = tf.tidy(() => {
    const { logits, pooled } = kept
      ? { logits: kept.outputs[0], pooled: tf.clone(kept.outputs[1]) }
      : policy.apply(images, { training: false });
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
    const result = opts.pooled ? { out, pooled: Float32Array.from(p.dataSync() as Float32Array) } : { out };
    return kept ? { ...result, kept } : result;
  } catch (e) {
    kept?.dispose();
    throw e;
  } finally {
    tf.dispose([t, p]);
  }
}

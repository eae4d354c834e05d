import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src/core/rng.js';
import { resolveViTConfig, type ViTConfig } from '../../agents/vit/index.js';
import { resolveHybridConfig, type HybridConfig } from '../../agents/vit/hybrid-config.js';

/** A very small config for tests that only need the wiring: 16 px, 16 tokens, D=16. */
export const MICRO: ViTConfig = resolveViTConfig({
  imageSize: 16,
  patchSize: 4,
  dim: 16,
  depth: 2,
  heads: 2,
  mlpDim: 32,
});

/** 16 px, stem 4->8 (1/2, 1/4), patch 2 (tokens at 1/8: a 2x2 grid), decoder 8, 8, 4: every code path of the hybrid, fast. */
export const TINY_HYBRID: HybridConfig = resolveHybridConfig({
  preset: 'hybrid-128',
  imageSize: 16,
  stemChannels: [4, 8],
  dim: 16,
  depth: 1,
  heads: 2,
  mlpDim: 32,
  decoderChannels: [8, 8, 4],
  dropout: 0,
});

/** Deterministic images [B,S,S,3] in [-1,1] (the range of normalizeImage). */
export function images(b: number, s: number, seed = 1): tf.Tensor4D {
  const rng = new Rng(seed, 'test-images');
  const data = new Float32Array(b * s * s * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-1, 1);
  return tf.tensor4d(data, [b, s, s, 3]);
}

/** Deterministic labels [B,S,S] int32 in [0, C). */
export function labels(b: number, s: number, classes: number, seed = 2): tf.Tensor3D {
  const rng = new Rng(seed, 'test-labels');
  const data = new Int32Array(b * s * s);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(0, classes);
  return tf.tensor3d(data, [b, s, s], 'int32');
}

/** Mean per-pixel cross-entropy of logits [B,H,W,C] against labels [B,H,W]. */
export function crossEntropy(logits: tf.Tensor4D, target: tf.Tensor3D): tf.Scalar {
  const c = logits.shape[3];
  return tf.tidy(() => {
    const flat = tf.reshape(logits, [-1, c]);
    const onehot = tf.oneHot(tf.reshape(target, [-1]), c);
    return tf.mean(tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(flat)), -1))) as tf.Scalar;
  });
}

/** Largest absolute difference between two tensors of the same shape. */
export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

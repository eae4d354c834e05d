/**
 * One Transformer encoder block, numerically PyTorch's `nn.TransformerEncoderLayer` with ReLU:
 *   pre-norm  (normFirst):  x = x + drop(attn(norm1(x)));  x = x + drop(mlp(norm2(x)))
 *   post-norm:              x = norm1(x + drop(attn(x)));  x = norm2(x + drop(mlp(x)))
 * attention: fused QKV projection (PyTorch's in_proj), softmax(q k^T / sqrt(hd)), dropout on the
 * attention weights, out projection; mlp: fc1 (D->M) + ReLU + dropout + fc2 (M->D).
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../../src/core/rng.js';
import { dense, dropout, dropsOut, fusedAttention, gelu, layerNormEps, softmax } from './ops.js';
import { canFuse, FUSED } from '../../src/native/fused.js';

/** The variables of one block (see params.ts for names and shapes). */
export interface BlockWeights {
  norm1Gamma: tf.Tensor1D;
  norm1Beta: tf.Tensor1D;
  /** [D, 3D]: columns [q | k | v], each head-major (head h owns columns h*hd..(h+1)*hd). */
  qkvKernel: tf.Tensor2D;
  qkvBias: tf.Tensor1D;
  outKernel: tf.Tensor2D;
  outBias: tf.Tensor1D;
  norm2Gamma: tf.Tensor1D;
  norm2Beta: tf.Tensor1D;
  fc1Kernel: tf.Tensor2D;
  fc1Bias: tf.Tensor1D;
  fc2Kernel: tf.Tensor2D;
  fc2Bias: tf.Tensor1D;
}

export interface BlockShape {
  batch: number;
  tokens: number;
  heads: number;
  normFirst: boolean;
  dropout: number;
  /** The MLP's activation (default relu). */
  mlpActivation?: 'relu' | 'gelu';
  /** LayerNorm epsilon (default PyTorch's 1e-5). */
  layerNormEps?: number;
}

/**
 * Multi-head self-attention on tokens x [B*T, D] -> [B*T, D]. On the fused kernel where it runs
 * (no dropout on the weights); otherwise heads are folded into the batch so the two attention
 * products are single batched matMuls over [B*heads, T, hd], with the same bits.
 */
export function selfAttention(
  x: tf.Tensor2D,
  w: BlockWeights,
  s: BlockShape,
  rng: Rng | undefined,
): tf.Tensor2D {
  const { batch: b, tokens: t, heads: h } = s;
  const d = x.shape[1];
  const hd = d / h;
  const qkv = dense(x, w.qkvKernel, w.qkvBias); // [B*T, 3D]
  const scale = 1 / Math.sqrt(hd);
  // One fused kernel where it runs and no dropout acts on the weights: the same ops and bits,
  // without the split and the head transposes (agents/vit/ops.ts, fusedAttention).
  if (!dropsOut(s.dropout, rng) && canFuse(FUSED.attention)) {
    return dense(fusedAttention(qkv, b, h, scale), w.outKernel, w.outBias);
  }
  // Split before moving heads: each part [B*T, D] -> [B, T, H, hd] -> [B*H, T, hd] is a rank-4
  // transpose (stock wasm took 126 ms for a rank-5 transpose of 1.2M floats, 7 ms for rank 4).
  const toHeads = (part: tf.Tensor) =>
    tf.reshape(tf.transpose(tf.reshape(part, [b, t, h, hd]), [0, 2, 1, 3]), [b * h, t, hd]) as tf.Tensor3D;
  const [q, k, v] = tf.split(qkv, 3, 1).map(toHeads);
  // Scale q rather than the scores: T*hd multiplies instead of T*T (PyTorch does the same).
  const scores = tf.matMul(tf.mul(q, scale), k, false, true); // [B*H, T, T]
  const weights = dropout(softmax(scores), s.dropout, rng);
  const ctx = tf.matMul(weights, v); // [B*H, T, hd]
  const merged = tf.reshape(tf.transpose(tf.reshape(ctx, [b, h, t, hd]), [0, 2, 1, 3]), [
    b * t,
    d,
  ]) as tf.Tensor2D;
  return dense(merged, w.outKernel, w.outBias);
}

/** MLP on tokens x [N, D] -> [N, D]. */
export function mlp(x: tf.Tensor2D, w: BlockWeights, s: BlockShape, rng: Rng | undefined): tf.Tensor2D {
  const act =
    s.mlpActivation === 'gelu'
      ? gelu(dense(x, w.fc1Kernel, w.fc1Bias))
      : dense(x, w.fc1Kernel, w.fc1Bias, true);
  const hidden = dropout(act, s.dropout, rng);
  return dense(hidden, w.fc2Kernel, w.fc2Bias);
}

/** One encoder block on tokens x [B*T, D] -> [B*T, D]; `rng` undefined means no dropout. */
export function encoderBlock(
  x: tf.Tensor2D,
  w: BlockWeights,
  s: BlockShape,
  rng: Rng | undefined,
): tf.Tensor2D {
  const drop = (y: tf.Tensor2D) => dropout(y, s.dropout, rng);
  const layerNorm = layerNormEps(s.layerNormEps);
  if (s.normFirst) {
    const a = tf.add<tf.Tensor2D>(x, drop(selfAttention(layerNorm(x, w.norm1Gamma, w.norm1Beta), w, s, rng)));
    return tf.add<tf.Tensor2D>(a, drop(mlp(layerNorm(a, w.norm2Gamma, w.norm2Beta), w, s, rng)));
  }
  const a = layerNorm(tf.add<tf.Tensor2D>(x, drop(selfAttention(x, w, s, rng))), w.norm1Gamma, w.norm1Beta);
  return layerNorm(tf.add<tf.Tensor2D>(a, drop(mlp(a, w, s, rng))), w.norm2Gamma, w.norm2Beta);
}

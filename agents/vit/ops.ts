/**
 * The tensor building blocks of the Face Transformer, in the tfjs core API only so they run and
 * differentiate on every backend (wasm has no Conv2DBackpropFilter and no gather gradients, so the
 * convolutions here are reshape/transpose + matMul). Dense layers work on 2-D `[N, in]` tokens:
 * one plain matMul each, the fastest shape on every backend.
 */
import * as tf from '@tensorflow/tfjs';
import { BulkRandom, dropoutDecision } from './random.js';
import { LAYER_NORM_EPS } from './config.js';
import type { Rng } from '../../src/core/rng.js';
import { biasEpilogueExact, canFuse, FUSED, recordingGradients } from '../../src/native/fused.js';

export { LAYER_NORM_EPS };

type Saver = tf.GradSaveFunc;

/**
 * x [N,in] @ kernel [in,out] + bias [out] (optionally ReLU) -> [N,out], as one fused kernel. With
 * ReLU where the fused kernels run, the backward's dy * step(y) and bias gradient are one pass
 * (reluBiasGrad) instead of three kernels, with the same bits as tf.fused.matMul's gradient.
 */
export function dense(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D, relu = false): tf.Tensor2D {
  if (relu && canFuse(FUSED.reluBiasGrad) && x.dtype === 'float32') return denseRelu(x, kernel, bias);
  return tf.fused.matMul({ a: x, b: kernel, bias, activation: relu ? 'relu' : 'linear' }) as tf.Tensor2D;
}

const denseRelu = tf.customGrad((...args) => {
  const [x, kernel, bias, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, Saver];
  const y = tf.fused.matMul({ a: x, b: kernel, bias, activation: 'relu' }) as tf.Tensor2D;
  save([x, kernel, y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.tidy(() => {
        const [xs, k, ys] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        const [N, K] = xs.shape;
        const M = k.shape[1];
        const [dAct, dBias] = tf.engine().runKernel(FUSED.reluBiasGrad, { dy, y: ys }, {}) as tf.Tensor[];
        // The products on [1,*,*] views, as tf.fused.matMul's gradient computes them.
        const d3 = tf.reshape(dAct, [1, N, M]);
        const dx = tf.matMul(d3, tf.reshape(k, [1, K, M]), false, true);
        const dk = tf.matMul(tf.reshape(xs, [1, N, K]), d3, true, false);
        return [tf.reshape(dx, [N, K]), tf.reshape(dk, [K, M]), dBias];
      }),
  };
}) as (x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D) => tf.Tensor2D;

/**
 * LayerNorm over the last axis of x [N,D] with gamma, beta [D], with the closed-form gradient
 * (about 12 kernels backward instead of ~40 from autodiff of the forward ops):
 *   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * gamma.
 * Where the fused kernels run (src/native/fused.ts: wasm with the native addon), forward and
 * gradient are one kernel each; elsewhere these tfjs ops, which are also the kernels' reference.
 */
export const layerNorm = layerNormWithEps(LAYER_NORM_EPS);

const layerNorms = new Map<number, typeof layerNorm>();

/** {@link layerNorm} with another epsilon (one function per epsilon, made once). */
export function layerNormEps(eps: number = LAYER_NORM_EPS): typeof layerNorm {
  let f = layerNorms.get(eps);
  if (!f) layerNorms.set(eps, (f = eps === LAYER_NORM_EPS ? layerNorm : layerNormWithEps(eps)));
  return f;
}

function layerNormWithEps(eps: number) {
  const ops = tf.customGrad((...args) => {
    const [x, gamma, beta, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, Saver];
    const centred = tf.sub(x, tf.mean(x, -1, true));
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centred), -1, true), eps));
    const xhat = tf.mul(centred, rstd);
    save([xhat, rstd, gamma]);
    return {
      value: tf.add(tf.mul(xhat, gamma), beta),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xh, rs, gm] = saved;
          const g = tf.mul(dy, gm);
          const dx = tf.mul(
            tf.sub(tf.sub(g, tf.mean(g, -1, true)), tf.mul(xh, tf.mean(tf.mul(g, xh), -1, true))),
            rs,
          );
          return [dx, tf.sum(tf.mul(dy, xh), 0), tf.sum(dy, 0)];
        }),
    };
  }) as (x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D) => tf.Tensor2D;
  // The fused route saves x and the row statistics [N] instead of xhat [N,D].
  const fused = tf.customGrad((...args) => {
    const [x, gamma, beta, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, Saver];
    const [y, mean, rstd] = tf
      .engine()
      .runKernel(FUSED.layerNorm, { x, gamma, beta }, { eps }) as tf.Tensor[];
    save([x, mean, rstd, gamma]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, m, r, g] = saved;
        return tf
          .engine()
          .runKernel(FUSED.layerNormGrad, { dy, x: xs, mean: m, rstd: r, gamma: g }, {}) as tf.Tensor[];
      },
    };
  }) as (x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D) => tf.Tensor2D;
  return (x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D): tf.Tensor2D =>
    canFuse(FUSED.layerNorm) && x.dtype === 'float32' ? fused(x, gamma, beta) : ops(x, gamma, beta);
}

/**
 * Exact (erf) GELU, x * Phi(x), as PyTorch's `nn.GELU()` used by timm and Hugging Face ViTs.
 * erf is Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7) from elementwise ops every backend
 * has and differentiates (wasm has no Erf kernel). Where the fused kernels run, one kernel forward
 * and one backward (the analytic derivative Phi(x) + x phi(x) of the same approximation's value).
 */
export function gelu<T extends tf.Tensor>(x: T): T {
  if (canFuse(FUSED.gelu) && x.dtype === 'float32') return fusedGelu(x) as T;
  return geluOps(x);
}

const fusedGelu = tf.customGrad((...args) => {
  const [x, save] = args as [tf.Tensor, Saver];
  save([x]);
  return {
    value: tf.engine().runKernel(FUSED.gelu, { x }, {}) as tf.Tensor,
    gradFunc: (dy: tf.Tensor, [xs]: tf.Tensor[]) =>
      tf.engine().runKernel(FUSED.geluGrad, { x: xs, dy }, {}) as tf.Tensor,
  };
}) as (x: tf.Tensor) => tf.Tensor;

/** {@link gelu} from tfjs ops (every backend; the fused kernels' reference). */
export function geluOps<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => {
    const z = tf.mul(x, Math.SQRT1_2);
    const a = tf.abs(z);
    const t = tf.div(1, tf.add(1, tf.mul(a, 0.3275911)));
    const poly = tf.mul(
      t,
      tf.add(
        0.254829592,
        tf.mul(
          t,
          tf.add(
            -0.284496736,
            tf.mul(t, tf.add(1.421413741, tf.mul(t, tf.add(-1.453152027, tf.mul(t, 1.061405429))))),
          ),
        ),
      ),
    );
    const erfAbs = tf.sub(1, tf.mul(poly, tf.exp(tf.neg(tf.square(a)))));
    const erf = tf.mul(tf.sign(z), erfAbs);
    return tf.mul(tf.mul(x, 0.5), tf.add(1, erf)) as T;
  });
}

/**
 * Softmax over the last axis (the attention weights): tf.softmax, or where the fused kernels run,
 * one kernel forward and one for the gradient dx = y * (dy - sum(dy * y)) (tfjs's gradient is four
 * kernels over the [B*heads, T, T] weights).
 */
export function softmax<T extends tf.Tensor>(x: T): T {
  return canFuse(FUSED.softmax) && x.dtype === 'float32' ? (fusedSoftmax(x) as T) : tf.softmax(x);
}

const fusedSoftmax = tf.customGrad((...args) => {
  const [x, save] = args as [tf.Tensor, Saver];
  const y = tf.engine().runKernel(FUSED.softmax, { x }, {}) as tf.Tensor;
  save([y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, [ys]: tf.Tensor[]) =>
      tf.engine().runKernel(FUSED.softmaxGrad, { y: ys, dy }, {}) as tf.Tensor,
  };
}) as (x: tf.Tensor) => tf.Tensor;

/**
 * Mean of each image's tokens: x [B*T, D] -> [B, D], as one plain matMul with a [B, B*T]
 * averaging matrix (tf.mean over the middle axis of [B,T,D] transposes first on wasm).
 */
export function tokenMeans(x: tf.Tensor2D, batch: number): tf.Tensor2D {
  const t = x.shape[0] / batch;
  const avg = new Float32Array(batch * batch * t);
  for (let b = 0; b < batch; b++) avg.fill(1 / t, b * batch * t + b * t, b * batch * t + (b + 1) * t);
  return tf.matMul(tf.tensor2d(avg, [batch, batch * t]), x);
}

/** Whether {@link dropout} at `rate` with `rng` drops anything (an rng and a rate above 0). */
export function dropsOut(rate: number, rng: Rng | undefined): rng is Rng {
  return rng !== undefined && rate !== 0;
}

/**
 * Inverted dropout with a mask drawn from `rng` (see random.ts for why not tf.dropout).
 * Identity when `rng` is undefined (inference) or `rate` is 0.
 */
export function dropout<T extends tf.Tensor>(x: T, rate: number, rng: Rng | undefined): T {
  if (!dropsOut(rate, rng)) return x;
  const random = new BulkRandom(rng);
  if (canFuse(FUSED.dropout) && x.dtype === 'float32') {
    // One kernel draws the same words and writes x * mask and the decisions as bytes (the same
    // bits as below, without the float32 mask's allocation, copy into the heap and two reads).
    const { keep, threshold } = dropoutDecision(rate);
    const attrs = { state: random.state(), threshold, keep };
    const apply = tf.customGrad((...args) => {
      const [input, save] = args as [tf.Tensor, Saver];
      const [y, mask] = tf.engine().runKernel(FUSED.dropout, { x: input }, attrs as never) as tf.Tensor[];
      save([mask]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, [m]: tf.Tensor[]) =>
          tf.engine().runKernel(FUSED.dropoutGrad, { dy, mask: m }, { keep }) as tf.Tensor,
      };
    }) as (x: tf.Tensor) => tf.Tensor;
    return apply(x) as T;
  }
  const mask = tf.tensor(random.dropoutMask(x.size, rate), x.shape, 'float32');
  return tf.mul(x, mask);
}

/**
 * Cut images into non-overlapping patches, one row per token.
 * images [B,S,S,c] -> [B*g*g, P*P*c] with g = S/P; tokens row-major over the patch grid, features
 * ordered (py, px, channel) like a conv kernel [P,P,c,D] (HWIO) flattened. So
 * `patchify(x) @ kernel.reshape([P*P*c, D])` equals `tf.conv2d(x, kernel, P, 'valid')`.
 */
export function patchify(images: tf.Tensor4D, patch: number): tf.Tensor2D {
  const [b, s, , c] = images.shape;
  const g = s / patch;
  // [B*g, P, g, P*c] -> swap the in-patch row with the grid column -> [B*g, g, P, P*c]
  const rows = tf.reshape(images, [b * g, patch, g, patch * c]);
  return tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [b * g * g, patch * patch * c]);
}

/**
 * Multi-head self-attention from the qkv product [B*T, 3D] (q, k, v side by side) to the merged
 * heads [B*T, D] on the fused kernel (`FprlAttention`, src/native/fused.cc): softmax((q*scale) k^T) v
 * per image and head with the bits of the split / transpose / matMul / softmax ops of
 * agents/vit/block.ts, which it replaces where {@link canFuse} says it runs. Under a tape it keeps
 * the softmax weights and its gradient (`FprlAttentionGrad`) takes the products of the ops'
 * gradients, in their order; otherwise nothing is kept. No dropout on the weights: with attention
 * dropout active the ops run.
 */
export function fusedAttention(qkv: tf.Tensor2D, batch: number, heads: number, scale: number): tf.Tensor2D {
  const attrs = { batch, heads, scale: Math.fround(scale) };
  if (!recordingGradients()) return tf.engine().runKernel(FUSED.attention, { qkv }, attrs) as tf.Tensor2D;
  const op = tf.customGrad((...args) => {
    const [x, save] = args as [tf.Tensor2D, Saver];
    const [out, weights] = tf.engine().runKernel(FUSED.attention, { qkv: x }, { ...attrs, keepWeights: true }) as tf.Tensor[];
    save([x, weights]);
    return {
      value: out as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor, [xs, w]: tf.Tensor[]) =>
        tf.engine().runKernel(FUSED.attentionGrad, { qkv: xs, weights: w, dy }, attrs) as tf.Tensor,
    };
  }) as (x: tf.Tensor2D) => tf.Tensor2D;
  return op(qkv);
}

/**
 * The per-pixel logits `unpatchify(tokens @ kernel) + bias` [B,S,S,c] (kernel [D, P*P*c], bias [c]).
 * Not recording gradients (a greedy labelling, an evaluation), the bias rides in the matMul's
 * epilogue, tiled over the P*P pixels of a token: every logit gets the same float32 add, and the
 * broadcast add over all B*S*S*c logits (11 ms for a ti16-256 batch of 8 on wasm) is gone. Under a
 * tape the plain ops run, so the bias gradient is summed as before, bit for bit; so do backends
 * whose fused product would add the bias in another order ({@link biasEpilogueExact}).
 */
export function pixelHead(
  tokens: tf.Tensor2D,
  kernel: tf.Tensor2D,
  bias: tf.Tensor1D,
  batch: number,
  grid: number,
  patch: number,
): tf.Tensor4D {
  if (recordingGradients() || !biasEpilogueExact())
    return tf.add<tf.Tensor4D>(unpatchify(tf.matMul(tokens, kernel), batch, grid, patch), bias);
  return tf.tidy(() =>
    unpatchify(
      tf.fused.matMul({ a: tokens, b: kernel, bias: tf.tile(bias, [patch * patch]) }) as tf.Tensor2D,
      batch,
      grid,
      patch,
    ),
  );
}

/**
 * Inverse of {@link patchify}: per-token pixel blocks back to an image.
 * tokens [B*g*g, P*P*c] with features (py, px, channel) -> [B, g*P, g*P, c].
 * `unpatchify(x @ W.reshape([D, P*P*c]))` equals `tf.conv2dTranspose(grid, filter, ..., P, 'valid')`
 * for W [D,P,P,c] = filter [P,P,c,D] transposed by [3,0,1,2].
 */
export function unpatchify(tokens: tf.Tensor2D, batch: number, grid: number, patch: number): tf.Tensor4D {
  const c = tokens.shape[1] / (patch * patch);
  const blocks = tf.reshape(tokens, [batch * grid, grid, patch, patch * c]);
  return tf.reshape(tf.transpose(blocks, [0, 2, 1, 3]), [batch, grid * patch, grid * patch, c]);
}

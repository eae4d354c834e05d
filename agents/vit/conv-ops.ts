/**
 * Convolutional building blocks of the hybrid Face Transformer (agents/vit/hybrid.ts), in plain
 * tfjs ops whose gradients exist on cpu and wasm: `tf.conv2d` (wasm: this project's Conv2D,
 * Conv2DBackpropInput and Conv2DBackpropFilter kernels, src/wasm/conv-kernel.ts), reshape, concat
 * (gradient: slice) and the closed-form LayerNorm of ops.ts. All maps are NHWC. Where the fused
 * kernels run, upsampling is one native kernel with the same bits (src/native/fused.cc).
 */
import * as tf from '@tensorflow/tfjs';
import { layerNorm } from './ops.js';
import { canFuse, FUSED } from '../../src/native/fused.js';

/** conv3x3 without bias, padding 1 on every side (PyTorch's `Conv2d(k=3, padding=1)`), any stride. */
export function conv3x3(x: tf.Tensor4D, kernel: tf.Tensor4D, stride: 1 | 2): tf.Tensor4D {
  return tf.conv2d(x, kernel, stride, 1);
}

/**
 * LayerNorm over the channels of every pixel (ConvNeXt's channel LayerNorm; stateless, so no
 * running statistics): x [B,H,W,C] -> [B,H,W,C]. PyTorch: `LayerNorm(C)` on the NHWC tensor.
 */
export function channelNorm(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  return tf.reshape(layerNorm(tf.reshape(x, [b * h * w, c]), gamma, beta), [b, h, w, c]);
}

/**
 * Nearest-neighbour x2 upsampling, x [B,H,W,C] -> [B,2H,2W,C] (PyTorch's
 * `F.interpolate(scale_factor=2, mode='nearest')`), as two concats of the tensor with itself:
 * along channels then reshaped (each pixel twice in its row), along rows then reshaped (each row
 * twice). tf.tile's gradient stops at rank 4 and resizeNearestNeighbor's has no wasm kernel.
 */
export function upsample2x(x: tf.Tensor4D): tf.Tensor4D {
  if (canFuse(FUSED.upsample2x) && x.dtype === 'float32') return fusedUpsample2x(x) as tf.Tensor4D;
  const [b, h, w, c] = x.shape;
  const cols = tf.reshape(tf.concat([x, x], 3), [b, h, 2 * w * c]);
  return tf.reshape(tf.concat([cols, cols], 2), [b, 2 * h, 2 * w, c]);
}

/**
 * The same upsampling as one kernel where the fused kernels run (src/native/fused.cc): a copy
 * forward, and a gradient that adds each 2x2 block in the order the concats' gradient does, so the
 * same bits without the two intermediate maps and four slices.
 */
const fusedUpsample2x = tf.customGrad((...args) => {
  const [x] = args as [tf.Tensor];
  return {
    value: tf.engine().runKernel(FUSED.upsample2x, { x }, {}) as tf.Tensor,
    gradFunc: (dy: tf.Tensor) => tf.engine().runKernel(FUSED.upsample2xGrad, { dy }, {}) as tf.Tensor,
  };
}) as (x: tf.Tensor) => tf.Tensor;

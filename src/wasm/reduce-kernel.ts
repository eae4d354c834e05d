/**
 * Reductions (`Sum`, `Mean`, `Max`, `Min`, `Prod`) over axes that are not the innermost ones.
 * The stock wasm kernels transpose the reduced axes to the end with the stock transpose (bias and
 * LayerNorm gradients sum `[N,D]` over axis 0: a `[2048,192]` transpose at ~7 ns/element); here the
 * transpose is the fast one, then the stock kernel reduces the innermost axes.
 */
import * as tf from '@tensorflow/tfjs';
import { asWasmBackend } from './internals.js';
import { fastTranspose } from './transpose-kernel.js';
import type { FastKernelContext } from './batch-matmul.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

/**
 * A fast config for a reduction kernel whose attrs are `{ axis, keepDims }` (`Max` calls the axis
 * `reductionIndices`).
 */
export function fastReduceConfig(ctx: FastKernelContext): tf.KernelConfig {
  const { stock } = ctx;
  function kernelFunc(args: KernelArgs): tf.TensorInfo {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const attrs = args.attrs as {
      axis?: number | number[];
      reductionIndices?: number | number[];
      keepDims: boolean;
    };
    const axisKey = attrs.reductionIndices !== undefined ? 'reductionIndices' : 'axis';
    const axis = attrs[axisKey] as number | number[];
    const keepDims = attrs.keepDims;
    if (!ctx.enabled() || (x.dtype !== 'float32' && x.dtype !== 'int32'))
      return stock.kernelFunc(args) as tf.TensorInfo;
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape);
    const perm = tf.backend_util.getAxesPermutation(axes, rank);
    if (perm == null) return stock.kernelFunc(args) as tf.TensorInfo;
    const backend = asWasmBackend(args.backend);
    const xT = fastTranspose(backend, x, perm);
    try {
      const inner = tf.backend_util.getInnerMostAxes(axes.length, rank);
      const out = stock.kernelFunc({
        inputs: { x: xT },
        backend,
        attrs: { [axisKey]: inner, keepDims: false },
      }) as tf.TensorInfo;
      if (keepDims) out.shape = tf.backend_util.expandShapeToKeepDim(out.shape, axes);
      return out;
    } finally {
      backend.disposeData(xT.dataId);
    }
  }
  return { kernelName: stock.kernelName, backendName: 'wasm', setupFunc: stock.setupFunc, kernelFunc };
}

/**
 * Reductions (`Sum`, `Mean`, `Max`, `Min`, `Prod`) over axes that are not the innermost ones.
 * The stock wasm kernels transpose the reduced axes to the end with the stock transpose (bias and
 * LayerNorm gradients sum `[N,D]` over axis 0: a `[2048,192]` transpose at ~7 ns/element); here the
 * transpose is the fast one, then the stock kernel reduces the innermost axes.
 *
 * With the native addon (src/native/), float32 `Sum` and `Mean` over one contiguous run of axes
 * (`[pre, R, post]` after merging dimensions: bias gradients, LayerNorm means, the log-softmax
 * normaliser over 11 classes) run there without any transpose.
 */
import * as tf from '@tensorflow/tfjs';
import { asWasmBackend } from './internals.js';
import { fastTranspose } from './transpose-kernel.js';
import type { FastKernelContext } from './batch-matmul.js';
import { nativeMatMul } from '../native/index.js';
import { float32View, type WasmBackend } from './internals.js';

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
    const native = nativeSum(args.backend, stock.kernelName, x, axes, keepDims);
    if (native) return native;
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

/** Sizes of `x` as `[pre, R, post]` when `axes` are one contiguous run; else undefined. */
function middleAxes(shape: readonly number[], axes: readonly number[]): [number, number, number] | undefined {
  const sorted = [...axes].sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i++) if (sorted[i] !== sorted[i - 1] + 1) return undefined;
  const first = sorted[0] ?? shape.length;
  const last = sorted.length ? sorted[sorted.length - 1] : shape.length - 1;
  const prod = (xs: readonly number[]) => xs.reduce((p, d) => p * d, 1);
  return [prod(shape.slice(0, first)), prod(shape.slice(first, last + 1)), prod(shape.slice(last + 1))];
}

/** Float32 Sum or Mean over contiguous axes on the native addon, or undefined to go on as before. */
function nativeSum(
  backendArg: unknown,
  kernelName: string,
  x: tf.TensorInfo,
  axes: number[],
  keepDims: boolean,
): tf.TensorInfo | undefined {
  if ((kernelName !== tf.Sum && kernelName !== tf.Mean) || x.dtype !== 'float32' || axes.length === 0) return;
  const addon = nativeMatMul();
  const dims = addon && middleAxes(x.shape, axes);
  if (!addon || !dims || dims[1] === 0) return;
  const [pre, R, post] = dims;
  const backend: WasmBackend = asWasmBackend(backendArg);
  const outShape = x.shape.filter((_, i) => !axes.includes(i));
  const out = backend.makeOutput(outShape, 'float32');
  addon.sum(
    float32View(backend, x),
    float32View(backend, out),
    pre,
    R,
    post,
    kernelName === tf.Mean ? 1 / R : 1,
  );
  if (keepDims) out.shape = tf.backend_util.expandShapeToKeepDim(out.shape, axes);
  return out;
}

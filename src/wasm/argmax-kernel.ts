/**
 * `ArgMax` over the last axis on the native kernel (src/native/kernels.cc) when it is built: the
 * greedy labelling takes the argmax of every pixel's 11 logits (5.8M values for a ti16-256 batch
 * of 8), which the stock wasm kernel ran in about 10 ms. The same loop, so the same labels (the
 * first index of the largest value). Other axes, dtypes, or no addon: the stock kernel.
 */
import type * as tf from '@tensorflow/tfjs';
import { nativeMatMul } from '../native/index.js';
import { asWasmBackend, float32View, tensorData } from './internals.js';
import type { FastKernelContext } from './batch-matmul.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

export function fastArgMaxConfig(ctx: FastKernelContext): tf.KernelConfig {
  const { stock } = ctx;
  function kernelFunc(args: KernelArgs): tf.TensorInfo {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { axis } = args.attrs as { axis: number | number[] };
    const rank = x.shape.length;
    const a = Array.isArray(axis) ? (axis.length === 1 ? axis[0] : NaN) : axis;
    const last = rank > 0 && (a === rank - 1 || a === -1);
    const addon = ctx.enabled() && last && x.dtype === 'float32' ? nativeMatMul() : undefined;
    const cols = rank > 0 ? x.shape[rank - 1] : 0;
    const size = x.shape.reduce((p, d) => p * d, 1);
    if (!addon?.argMax || size === 0 || cols === 0) return stock.kernelFunc(args) as tf.TensorInfo;
    const backend = asWasmBackend(args.backend);
    const out = backend.makeOutput(x.shape.slice(0, -1), 'int32');
    const labels = new Int32Array(backend.wasm.HEAPU8.buffer, tensorData(backend, out).memoryOffset, size / cols);
    addon.argMax(float32View(backend, x), labels, cols);
    return out;
  }
  return { kernelName: stock.kernelName, backendName: 'wasm', setupFunc: stock.setupFunc, kernelFunc };
}

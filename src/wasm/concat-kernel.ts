/**
 * wasm `Concat` on the native addon's strided copy (src/native/conv.cc `copyRuns`). The stock
 * kernel copies each input's part of each outer row with a `subarray` + `set` pair: concatenating
 * NHWC maps along channels (the hybrid Face Transformer's skip connections, and its nearest x2
 * upsampling, which is two concats of a map with itself) is one JS call per pixel and input for a
 * run of a few floats. Here each input is one call that copies all its runs. The bytes are the
 * stock kernel's (a copy); without the addon, for strings, or with the fast kernels off, the stock
 * kernel runs.
 */
import * as tf from '@tensorflow/tfjs';
import type { FastKernelContext } from './internals.js';
import { asWasmBackend, tensorData } from './internals.js';
import { nativeMatMul } from '../native/index.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

const BYTES: Partial<Record<tf.DataType, number>> = { float32: 4, int32: 4, bool: 1 };

export function fastConcatConfig(ctx: FastKernelContext): tf.KernelConfig {
  const { stock } = ctx;
  function kernelFunc(args: KernelArgs): tf.TensorInfo {
    const inputs = args.inputs as unknown as tf.TensorInfo[];
    const addon = ctx.enabled() ? nativeMatMul() : undefined;
    const dtype = inputs[0]?.dtype;
    const bytes = dtype && BYTES[dtype];
    const parts = inputs.filter((t) => tf.util.sizeFromShape(t.shape) > 0);
    if (!addon?.copyRuns || !bytes || parts.length < 2 || parts.some((t) => t.dtype !== dtype))
      return stock.kernelFunc(args) as tf.TensorInfo;
    const axis = tf.util.parseAxisParam((args.attrs as { axis: number | number[] }).axis, inputs[0].shape)[0];
    tf.backend_util.assertParamsConsistent(
      inputs.map((t) => t.shape),
      axis,
    );
    const backend = asWasmBackend(args.backend);
    const out = backend.makeOutput(
      tf.backend_util.computeOutShape(
        inputs.map((t) => t.shape),
        axis,
      ),
      dtype,
    );
    const rows = tf.util.sizeFromShape(parts[0].shape.slice(0, axis));
    const inner = parts.map((t) => tf.util.sizeFromShape(t.shape.slice(axis)) * bytes);
    const rowBytes = inner.reduce((a, b) => a + b, 0);
    // The heap after makeOutput, which may have grown it.
    const heap = backend.wasm.HEAPU8;
    let column = tensorData(backend, out).memoryOffset;
    parts.forEach((t, i) => {
      addon.copyRuns!(heap, tensorData(backend, t).memoryOffset, inner[i], column, rowBytes, inner[i], rows);
      column += inner[i];
    });
    return out;
  }
  return { kernelName: stock.kernelName, backendName: 'wasm', setupFunc: stock.setupFunc, kernelFunc };
}

/**
 * wasm `Slice` and `SplitV` without the stock kernels' extra copies. The stock `Slice` first copies
 * the whole input out of the wasm heap (`readSync`) and then copies each row through a fresh
 * `subarray`; `SplitV` does that once per part (the ViT's q/k/v split of `[B*T, 3D]` read the
 * activations three times, ~5 ns per element). Here the output is filled straight from the heap:
 * the slice is cut into runs of contiguous elements (the innermost dims taken whole merge into one
 * run) and each run is one `copyWithin` on a view of the heap. With the native addon, slices whose
 * outer dims are taken whole (every SplitV part: equally spaced runs) are one `copyRuns` call
 * (src/native/conv.cc) instead of a JS call per run: a channel split of an NHWC map is one run of a
 * few floats per pixel.
 */
import * as tf from '@tensorflow/tfjs';
import type { FastKernelContext } from './internals.js';
import { asWasmBackend, tensorData, type WasmBackend } from './internals.js';
import { nativeMatMul } from '../native/index.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

const BYTES: Partial<Record<tf.DataType, number>> = { float32: 4, int32: 4, bool: 1 };

/** x[begin : begin + size] as a new tensor (begin/size already resolved: no -1). */
export function fastSlice(
  backend: WasmBackend,
  x: tf.TensorInfo,
  begin: number[],
  size: number[],
): tf.TensorInfo {
  const bytes = BYTES[x.dtype] as number;
  const out = backend.makeOutput(size, x.dtype);
  const total = size.reduce((a, b) => a * b, 1);
  if (total === 0) return out;
  const rank = x.shape.length;
  const strides = tf.util.computeStrides(x.shape);
  // The last dim not taken whole: everything inside it is one contiguous run per outer index.
  let d = rank - 1;
  while (d >= 0 && size[d] === x.shape[d]) d--;
  const inner = d < 0 ? total : size[d] * (d + 1 < rank ? strides[d] : 1);
  const runStart = d < 0 ? 0 : begin[d] * (d + 1 < rank ? strides[d] : 1);
  // Views after makeOutput, which may have grown (and so replaced) the heap buffer.
  const heap =
    bytes === 4 ? new Int32Array(backend.wasm.HEAPU8.buffer) : new Uint8Array(backend.wasm.HEAPU8.buffer);
  const src0 = tensorData(backend, x).memoryOffset / bytes;
  const dst0 = tensorData(backend, out).memoryOffset / bytes;
  const outer = total / inner;
  const addon = nativeMatMul();
  let wholeOuter = d >= 1;
  for (let i = 0; i < d; i++) wholeOuter &&= size[i] === x.shape[i];
  if (addon?.copyRuns && wholeOuter && outer > 1) {
    // Runs equally spaced by a row of dim d-1 in x, packed one after another in out.
    addon.copyRuns(
      backend.wasm.HEAPU8,
      (src0 + runStart) * bytes,
      strides[d - 1] * bytes,
      dst0 * bytes,
      inner * bytes,
      inner * bytes,
      outer,
    );
    return out;
  }
  const idx = new Array<number>(Math.max(0, d)).fill(0);
  let src = src0 + runStart;
  for (let i = 0; i < d; i++) src += begin[i] * strides[i];
  let dst = dst0;
  for (let o = 0; o < outer; o++) {
    heap.copyWithin(dst, src, src + inner);
    dst += inner;
    for (let k = d - 1; k >= 0; k--) {
      idx[k]++;
      src += strides[k];
      if (idx[k] < size[k]) break;
      src -= strides[k] * size[k];
      idx[k] = 0;
    }
  }
  return out;
}

function resolve(x: tf.TensorInfo, begin: number | number[], size?: number | number[]): [number[], number[]] {
  const [b, s] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, begin, size);
  return [b, s];
}

/** The fast `Slice` config. */
export function fastSliceConfig(ctx: FastKernelContext): tf.KernelConfig {
  const kernelFunc = (args: KernelArgs): tf.TensorInfo => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { begin, size } = args.attrs as { begin: number | number[]; size?: number | number[] };
    if (!ctx.enabled() || BYTES[x.dtype] === undefined) return ctx.stock.kernelFunc(args) as tf.TensorInfo;
    const [b, s] = resolve(x, begin, size);
    return fastSlice(asWasmBackend(args.backend), x, b, s);
  };
  return {
    kernelName: ctx.stock.kernelName,
    backendName: 'wasm',
    setupFunc: ctx.stock.setupFunc,
    kernelFunc,
  };
}

/** The fast `SplitV` config: one {@link fastSlice} per part. */
export function fastSplitVConfig(ctx: FastKernelContext): tf.KernelConfig {
  const kernelFunc = (args: KernelArgs): tf.TensorInfo[] => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number };
    if (!ctx.enabled() || BYTES[x.dtype] === undefined) return ctx.stock.kernelFunc(args) as tf.TensorInfo[];
    const backend = asWasmBackend(args.backend);
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, ax);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = [...x.shape];
      size[ax] = s;
      const part = fastSlice(backend, x, [...begin], size);
      begin[ax] += s;
      return part;
    });
  };
  return {
    kernelName: ctx.stock.kernelName,
    backendName: 'wasm',
    setupFunc: ctx.stock.setupFunc,
    kernelFunc,
  };
}

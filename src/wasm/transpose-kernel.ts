/**
 * A faster wasm `Transpose`. The stock kernel is good for ranks 3 and 4 but slow for rank >= 5
 * (a coordinate vector per element: 60-180 ns/element, the attention head split of a ViT) and for
 * 2-D transposes whose row count is a large power of two (writes with a stride of R floats alias in
 * the cache: `[2048,192]` ~7 ns/element). Here, after simplifying the shape (size-1 dims dropped,
 * adjacent dims merged):
 *
 * - rank <= 1: a copy (stock);
 * - a batched 2-D transpose `[..., R, C] -> [..., C, R]`: the C++ 3-D kernel on `[..., R/r, r, C]`,
 *   which reads with stride C and writes runs of r, when C is "less power-of-two" than R
 *   (~1 ns/element for `[2048,192]`); else the C++ 2-D kernel;
 * - other rank 3-4: the C++ kernel on the simplified shape;
 * - rank >= 5: a JS copy of contiguous runs or a tiled transpose on the heap (src/wasm/transpose.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { asWasmBackend, shapeBytes, tensorData, type WasmBackend } from './internals.js';
import { simplifyTranspose, transposeFlat } from './transpose.js';
import type { FastKernelContext } from './batch-matmul.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];
type CTranspose = (
  xId: number,
  shape: Uint8Array,
  rank: number,
  dtype: number,
  outId: number,
  perm: Uint8Array,
  permLen: number,
) => void;

/** tfjs-backend-wasm's CppDType codes. */
const CPP_DTYPE: Partial<Record<tf.DataType, number>> = { float32: 0, int32: 1 };

/** Row splits for the 2-D route, best first (measured: 32-64 give ~1-1.7 ns/element). */
const ROW_SPLITS = [64, 32, 16, 8, 4, 2];

let cTranspose: CTranspose | undefined;
let stockTranspose: tf.KernelConfig | undefined;

function trailingZeros(n: number): number {
  let z = 0;
  while (n > 0 && n % 2 === 0) {
    n /= 2;
    z++;
  }
  return z;
}

/**
 * Transpose `x` by `perm` on the wasm backend into a new tensor (caller disposes). Uses the routes
 * above; float32 and int32 only (others go to the stock kernel).
 */
export function fastTranspose(
  backend: WasmBackend,
  x: tf.TensorInfo,
  perm: readonly number[],
): tf.TensorInfo {
  const outShape = perm.map((p) => x.shape[p]);
  const dtype = CPP_DTYPE[x.dtype];
  const { shape, perm: p } = simplifyTranspose(x.shape, perm);
  const r = shape.length;
  if (dtype === undefined || !cTranspose || r <= 1) return runStock(backend, x, perm);
  const out = backend.makeOutput(outShape, x.dtype);
  const xId = tensorData(backend, x).id;
  const outId = tensorData(backend, out).id;
  const batched2d =
    r >= 2 && p[r - 1] === r - 2 && p[r - 2] === r - 1 && p.slice(0, r - 2).every((q, i) => q === i);
  if (batched2d && r <= 3) {
    const [R, C] = shape.slice(-2);
    const r = ROW_SPLITS.find((q) => R % q === 0);
    if (r !== undefined && trailingZeros(C) <= trailingZeros(R)) {
      // [..., R/r, r, C] by [..., C-dim, R/r-dim, r-dim]: the C++ 3-D loop reads with stride C and
      // writes runs of r contiguously (r = 1 would make its innermost loop one element long).
      const lead = shape.slice(0, -2);
      const k = lead.length;
      const perm3 = [...lead.keys(), k + 2, k, k + 1];
      callC(xId, [...lead, R / r, r, C], dtype, outId, perm3);
      return out;
    }
  }
  if (r <= 4) {
    callC(xId, shape, dtype, outId, p);
    return out;
  }
  // Views are made after makeOutput, which may have grown (and so replaced) the heap buffer.
  const heap = new Int32Array(backend.wasm.HEAPU8.buffer);
  const src = tensorData(backend, x).memoryOffset / 4;
  const dst = tensorData(backend, out).memoryOffset / 4;
  const size = shape.reduce((a, b) => a * b, 1);
  if (Math.max(src, dst) + size > heap.length) {
    backend.disposeData(out.dataId);
    throw new Error('fprl fast wasm Transpose: stale heap view (the heap grew on another thread)');
  }
  transposeFlat(heap, src, heap, dst, shape, p);
  return out;
}

function callC(xId: number, shape: number[], dtype: number, outId: number, perm: number[]): void {
  (cTranspose as CTranspose)(
    xId,
    shapeBytes(shape),
    shape.length,
    dtype,
    outId,
    shapeBytes(perm),
    perm.length,
  );
}

function runStock(backend: WasmBackend, x: tf.TensorInfo, perm: readonly number[]): tf.TensorInfo {
  const stock = stockTranspose ?? tf.getKernel(tf.Transpose, 'wasm');
  if (!stock) throw new Error('fprl fast wasm kernels: no wasm Transpose kernel');
  return stock.kernelFunc({ inputs: { x }, backend, attrs: { perm: [...perm] } }) as tf.TensorInfo;
}

/** The fast `Transpose` config for the wasm backend, wrapping `ctx.stock`. */
export function fastTransposeConfig(ctx: FastKernelContext): tf.KernelConfig {
  stockTranspose = ctx.stock;
  function setup(backend: object): void {
    ctx.stock.setupFunc?.(backend);
    const args = ['number', 'array', 'number', 'number', 'number', 'array', 'number'] as const;
    cTranspose = asWasmBackend(backend).wasm.cwrap('Transpose', null, [...args]) as CTranspose;
  }
  function kernelFunc(args: KernelArgs): tf.TensorInfo {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { perm } = args.attrs as { perm: number[] };
    const backend = asWasmBackend(args.backend);
    if (!ctx.enabled()) return runStock(backend, x, perm);
    if (!cTranspose) setup(backend);
    return fastTranspose(backend, x, perm);
  }
  return { kernelName: ctx.stock.kernelName, backendName: 'wasm', setupFunc: setup, kernelFunc };
}

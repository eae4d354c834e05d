/**
 * The two moves the fast matMul kernels are made of: a physical transpose of the last two
 * dimensions (so XNNPACK sees `[M,K] x [K,N]`), and a loop over batch slices that hands each
 * `[M,K] x [K,N]` pair to the C++ fast path through zero-copy views.
 */
import * as tf from '@tensorflow/tfjs';
import { broadcastIndices, type MatMulPlan } from './plan.js';
import { disposeView, makeView, tensorData, type WasmBackend } from './internals.js';

const F32 = 4;

/** `x` with its last two dimensions swapped, as a new tensor on the backend (caller disposes). */
export function transposeLast2(backend: WasmBackend, x: tf.TensorInfo): tf.TensorInfo {
  const kernel = tf.getKernel(tf.Transpose, 'wasm');
  if (!kernel) throw new Error('fprl fast wasm kernels: the wasm Transpose kernel is not registered');
  const r = x.shape.length;
  const perm = [...Array(r - 2).keys(), r - 1, r - 2];
  return kernel.kernelFunc({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
}

/**
 * Call `gemm(aId, bId, outId)` once per batch slice of `out`, where the ids are views of the
 * slices `a[i] [M,K]`, `b[i] [K,N]` (broadcast batch indices) and `out[i] [M,N]`. `a` and `b`
 * must be physically `[..., M, K]` and `[..., K, N]`. A `b` slice read by several outputs keeps
 * one view, so XNNPACK packs it once.
 */
export function forEachSlice(
  backend: WasmBackend,
  plan: MatMulPlan,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  out: tf.TensorInfo,
  gemm: (aId: number, bId: number, outId: number) => void,
): void {
  const { M, K, N } = plan;
  const aOff = tensorData(backend, a).memoryOffset;
  const bOff = tensorData(backend, b).memoryOffset;
  const outOff = tensorData(backend, out).memoryOffset;
  const aIndex = broadcastIndices(plan.outBatchShape, plan.aBatchShape);
  const bIndex = broadcastIndices(plan.outBatchShape, plan.bBatchShape);
  const aViews = new Map<number, number>();
  const bViews = new Map<number, number>();
  const view = (cache: Map<number, number>, base: number, i: number, size: number): number => {
    let id = cache.get(i);
    if (id === undefined) {
      id = makeView(backend, base + i * size * F32, size);
      cache.set(i, id);
    }
    return id;
  };
  try {
    for (let i = 0; i < plan.outBatch; i++) {
      const aId = view(aViews, aOff, aIndex[i], M * K);
      const bId = view(bViews, bOff, bIndex[i], K * N);
      const outId = makeView(backend, outOff + i * M * N * F32, M * N);
      try {
        gemm(aId, bId, outId);
      } finally {
        disposeView(backend, outId);
      }
    }
  } finally {
    for (const id of aViews.values()) disposeView(backend, id);
    for (const id of bViews.values()) disposeView(backend, id);
  }
}

/**
 * The wasm backend's matMuls on the native AVX2 + FMA kernel (src/native/), when it is built and
 * the CPU has it. The operands stay where they are: the kernel gets Float32Array views of the
 * tensors' bytes in the wasm heap and writes the result into a freshly allocated output there.
 * Transpose flags and batch broadcasting are strides and slice indices for the kernel, so no
 * physical transpose, no per-call weight packing by XNNPACK and no split-K are needed.
 */
import type * as tf from '@tensorflow/tfjs';
import type { NativeAddon } from '../native/index.js';
import { float32View, type WasmBackend } from './internals.js';
import { broadcastIndices, type MatMulPlan } from './plan.js';

/** Bias and activation applied to every `[M,N]` result (tfjs-backend-wasm's activation codes). */
export interface Epilogue {
  /** `[N]` float32, added to every row. */
  bias?: tf.TensorInfo | null;
  activation: number;
  /** leakyrelu's slope. */
  alpha: number;
}

/** `op(a) @ op(b)` (+ epilogue) as a new float32 tensor on the wasm backend (caller owns it). */
export function nativeProduct(
  addon: NativeAddon,
  backend: WasmBackend,
  plan: MatMulPlan,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  tA: boolean,
  tB: boolean,
  epilogue?: Epilogue,
): tf.TensorInfo {
  const out = backend.makeOutput([...plan.outBatchShape, plan.M, plan.N], 'float32');
  // `[B,M,K] x [K,N]` with a row-major `a` is one `[B*M,K] x [K,N]` product over the same memory.
  const fold = plan.bBatch === 1 && !tA;
  const M = fold ? plan.aBatch * plan.M : plan.M;
  const aSlice = fold ? new Int32Array(1) : broadcastIndices(plan.outBatchShape, plan.aBatchShape);
  const bSlice = fold ? new Int32Array(1) : broadcastIndices(plan.outBatchShape, plan.bBatchShape);
  try {
    // Views are taken after the output is allocated: allocation can grow (and replace) the heap.
    const bias = epilogue?.bias;
    addon.gemm(
      float32View(backend, a),
      float32View(backend, b),
      float32View(backend, out),
      M,
      plan.N,
      plan.K,
      tA,
      tB,
      aSlice,
      bSlice,
      bias ? float32View(backend, bias, plan.N) : null,
      epilogue?.activation ?? 0,
      epilogue?.alpha ?? 0,
    );
  } catch (e) {
    backend.disposeData(out.dataId);
    throw e;
  }
  return out;
}

/**
 * A faster wasm `BatchMatMul`. The stock C++ kernel uses XNNPACK only for a single
 * `[M,K] x [K,N]` product without transpose flags (~25 GFLOP/s on one core here) and otherwise runs
 * a blocked scalar loop (~1 GFLOP/s). Every matMul gradient carries a transpose flag and every
 * attention product is batched, so training mostly ran the slow loop. This kernel rewrites each
 * call into fast-path calls:
 *
 * - transpose flags: transpose the operand physically (the wasm Transpose kernel, O(size), a few
 *   percent of the product's cost) and multiply without flags;
 * - `b` shared over the batch (`[B,M,K] x [K,N]`): fold the batch into rows, one `[B*M,K] x [K,N]`;
 * - both batched (attention `[B*h,T,d]`): one fast-path call per batch slice through zero-copy
 *   views of the slices (numpy broadcasting of the batch dimensions);
 * - a 2-D product whose `b` is much larger than `a` (weight gradients, column sums): computed
 *   transposed, so XNNPACK packs the smaller operand (see {@link swapPays});
 * - a long contraction (K > 4096): a sum of products over K chunks (src/wasm/split-k.ts).
 *
 * Every product, even one the stock kernel would send to XNNPACK itself, reaches the C++ fast
 * path with `b` as a fresh view id. The C++ caches XNNPACK's packed weights by `b`'s tensor id and
 * ignores its shape, but `tf.reshape` keeps the id: the stock kernel multiplies by stale weights
 * (and writes past its output) after `matMul(x, w)` then `matMul(y, reshape(w, other))`. A fresh
 * view per call costs one packing of `b` (O(K*N), against O(M*K*N) for the product) and frees the
 * packed copy when the view is disposed.
 *
 * When the native AVX2 matMul is built and usable (src/native/), every float32 product goes to it
 * instead (src/wasm/native-matmul.ts): flags and batches are strides there, so none of the above
 * is needed.
 *
 * Non-float32 and empty inputs go to the stock kernel.
 */
import type * as tf from '@tensorflow/tfjs';
import { asWasmBackend, shapeBytes, type WasmBackend } from './internals.js';
import { nativeMatMul } from '../native/index.js';
import { nativeProduct } from './native-matmul.js';
import { planMatMul, type MatMulPlan } from './plan.js';
import { forEachSlice, transposeLast2 } from './slices.js';
import { SPLIT_K_ABOVE, splitKProduct } from './split-k.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];
type Gemm = (aId: number, aShape: Uint8Array, bId: number, bShape: Uint8Array, outId: number) => void;

import type { FastKernelContext } from './internals.js';
export type { FastKernelContext };

/** The fast `BatchMatMul` config for the wasm backend, wrapping `ctx.stock`. */
export function fastBatchMatMulConfig(ctx: FastKernelContext): tf.KernelConfig {
  const { stock } = ctx;
  let gemm: Gemm | undefined;

  function setup(backend: object): void {
    stock.setupFunc?.(backend);
    const cwrapped = asWasmBackend(backend).wasm.cwrap('BatchMatMul', null, [
      'number',
      'array',
      'number',
      'number',
      'array',
      'number',
      'number',
      'number',
      'number',
    ]);
    gemm = (aId, aShape, bId, bShape, outId) => cwrapped(aId, aShape, 3, bId, bShape, 3, 0, 0, outId);
  }

  function kernelFunc(args: KernelArgs): tf.TensorInfo {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
    const tA = !!transposeA;
    const tB = !!transposeB;
    if (!ctx.enabled() || a.dtype !== 'float32' || b.dtype !== 'float32') return runStock(stock, args);
    const plan = planMatMul(a.shape, b.shape, tA, tB);
    if (plan.M * plan.K * plan.N * plan.outBatch === 0) return runStock(stock, args);

    const backend = asWasmBackend(args.backend);
    const addon = nativeMatMul();
    if (addon) return nativeProduct(addon, backend, plan, a, b, tA, tB);
    if (!gemm) setup(backend);
    if (plan.aBatch === 1 && plan.bBatch === 1 && swapPays(plan, tA, tB)) {
      // C = (op(B)^T op(A)^T)^T: XNNPACK packs op(A)^T [K,M] instead of op(B) [K,N].
      const swapped = planMatMul(b.shape, a.shape, !tB, !tA);
      const outT = product(backend, swapped, b, a, !tB, !tA);
      try {
        const out = transposeLast2(backend, outT);
        out.shape = [...plan.outBatchShape, plan.M, plan.N];
        return out;
      } finally {
        backend.disposeData(outT.dataId);
      }
    }
    return product(backend, plan, a, b, tA, tB);
  }

  /** op(a) @ op(b) by physical transposes and fast-path calls (see the file comment). */
  function product(
    backend: WasmBackend,
    plan: MatMulPlan,
    a: tf.TensorInfo,
    b: tf.TensorInfo,
    tA: boolean,
    tB: boolean,
  ): tf.TensorInfo {
    const temps: tf.TensorInfo[] = [];
    try {
      const a2 = tA ? keep(temps, transposeLast2(backend, a)) : a;
      const b2 = tB ? keep(temps, transposeLast2(backend, b)) : b;
      const slices = foldBatch(plan);
      const out = backend.makeOutput([...plan.outBatchShape, plan.M, plan.N], 'float32');
      const aShape = shapeBytes([1, slices.M, slices.K]);
      const bShape = shapeBytes([1, slices.K, slices.N]);
      const run = gemm as Gemm;
      try {
        if (slices.outBatch === 1 && slices.K > SPLIT_K_ABOVE) {
          splitKProduct(backend, slices.M, slices.K, slices.N, a2, b2, out, run);
        } else {
          forEachSlice(backend, slices, a2, b2, out, (aId, bId, outId) =>
            run(aId, aShape, bId, bShape, outId),
          );
        }
      } catch (e) {
        backend.disposeData(out.dataId);
        throw e;
      }
      return out;
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  }

  return { kernelName: stock.kernelName, backendName: 'wasm', setupFunc: setup, kernelFunc };
}

/** Measured here, ns per element: XNNPACK packing `b` (operator creation), and our transposes. */
const PACK_NS = 6;
const TRANSPOSE_NS = 1.3;

/**
 * Whether computing the 2-D product as `(op(B)^T op(A)^T)^T` is clearly cheaper. The product's
 * flops are the same either way; what differs is which operand XNNPACK packs (~6 ns/element, every
 * call, as `b` is always a fresh view) and which operands and result need a physical transpose.
 * Weight gradients `X^T dY` with fewer inputs than outputs (qkv, fc1, the head) and column sums
 * `ones[1,N] @ m` win: the small operand gets packed.
 */
export function swapPays(plan: Pick<MatMulPlan, 'M' | 'K' | 'N'>, tA: boolean, tB: boolean): boolean {
  const { M, K, N } = plan;
  const direct = (tA ? TRANSPOSE_NS * M * K : 0) + (tB ? TRANSPOSE_NS * K * N : 0) + PACK_NS * K * N;
  const swapped =
    (tA ? 0 : TRANSPOSE_NS * M * K) +
    (tB ? 0 : TRANSPOSE_NS * K * N) +
    PACK_NS * K * M +
    TRANSPOSE_NS * M * N;
  return swapped < 0.8 * direct;
}

/**
 * When `b` has no batch, `[B,M,K] x [K,N]` is one `[B*M,K] x [K,N]` product over the same memory:
 * the plan of a single slice with B*M rows. Otherwise the plan itself.
 */
export function foldBatch(plan: MatMulPlan): MatMulPlan {
  if (plan.bBatch !== 1) return plan;
  return {
    ...plan,
    M: plan.aBatch * plan.M,
    aBatchShape: [],
    bBatchShape: [],
    outBatchShape: [],
    aBatch: 1,
    bBatch: 1,
    outBatch: 1,
  };
}

function keep(temps: tf.TensorInfo[], t: tf.TensorInfo): tf.TensorInfo {
  temps.push(t);
  return t;
}

/** Run a stock kernel function; its result is a single tensor for the matMul kernels. */
export function runStock(stock: tf.KernelConfig, args: KernelArgs): tf.TensorInfo {
  return stock.kernelFunc(args) as tf.TensorInfo;
}

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
 *   views of the slices (numpy broadcasting of the batch dimensions).
 *
 * Non-float32 inputs, empty tensors and calls that already hit the fast path go to the stock
 * kernel unchanged.
 */
import type * as tf from '@tensorflow/tfjs';
import { asWasmBackend, shapeBytes, type WasmBackend } from './internals.js';
import { planMatMul } from './plan.js';
import { forEachSlice, transposeLast2 } from './slices.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];
type Gemm = (aId: number, aShape: Uint8Array, bId: number, bShape: Uint8Array, outId: number) => void;

/** What a fast kernel needs from its registration: the stock config and an on/off switch. */
export interface FastKernelContext {
  stock: tf.KernelConfig;
  /** false: every call goes to the stock kernel (for before/after measurements). */
  enabled: () => boolean;
}

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
    const alreadyFast = !tA && !tB && plan.aBatch === 1 && plan.bBatch === 1;
    if (alreadyFast || plan.M * plan.K * plan.N * plan.outBatch === 0) return runStock(stock, args);

    const backend = asWasmBackend(args.backend);
    const temps: tf.TensorInfo[] = [];
    try {
      const a2 = tA ? keep(temps, transposeLast2(backend, a)) : a;
      const b2 = tB ? keep(temps, transposeLast2(backend, b)) : b;
      const outShape = [...plan.outBatchShape, plan.M, plan.N];
      if (plan.bBatch === 1) {
        // [B,M,K] x [K,N] is one [B*M,K] x [K,N] product with the same memory layout.
        const out = runStock(stock, {
          inputs: {
            a: { dataId: a2.dataId, dtype: 'float32', shape: [plan.aBatch * plan.M, plan.K] },
            b: { dataId: b2.dataId, dtype: 'float32', shape: [plan.K, plan.N] },
          },
          backend,
          attrs: { transposeA: false, transposeB: false },
        });
        out.shape = outShape;
        return out;
      }
      if (!gemm) setup(backend);
      return slicedProduct(backend, plan, a2, b2, outShape, gemm as Gemm);
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  }

  return { kernelName: stock.kernelName, backendName: 'wasm', setupFunc: setup, kernelFunc };
}

function slicedProduct(
  backend: WasmBackend,
  plan: ReturnType<typeof planMatMul>,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  outShape: number[],
  gemm: Gemm,
): tf.TensorInfo {
  const out = backend.makeOutput(outShape, 'float32');
  const aShape = shapeBytes([1, plan.M, plan.K]);
  const bShape = shapeBytes([1, plan.K, plan.N]);
  try {
    forEachSlice(backend, plan, a, b, out, (aId, bId, outId) => gemm(aId, aShape, bId, bShape, outId));
  } catch (e) {
    backend.disposeData(out.dataId);
    throw e;
  }
  return out;
}

function keep(temps: tf.TensorInfo[], t: tf.TensorInfo): tf.TensorInfo {
  temps.push(t);
  return t;
}

/** Run a stock kernel function; its result is a single tensor for the matMul kernels. */
export function runStock(stock: tf.KernelConfig, args: KernelArgs): tf.TensorInfo {
  return stock.kernelFunc(args) as tf.TensorInfo;
}

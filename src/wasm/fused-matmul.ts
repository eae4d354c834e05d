/**
 * A faster wasm `_FusedMatMul` (matMul + bias + activation, used by `tf.fused.matMul` and by
 * tf.layers). Same problem and same cure as {@link fastBatchMatMulConfig}: the stock C++ kernel
 * takes XNNPACK only without transpose flags and without a batch; otherwise a scalar loop, which
 * also reads the bias wrongly for rows after the first. Here flags become physical transposes and
 * batches become folded rows or per-slice fast-path calls.
 *
 * Left to the stock kernel: non-float32, empty tensors, calls already on the fast path, a bias
 * whose size is not N (the XNNPACK path reads N values), and prelu on a doubly batched product
 * (its weights are indexed over the whole output, which a slice does not see).
 */
import type * as tf from '@tensorflow/tfjs';
import { asWasmBackend, shapeBytes, tensorData } from './internals.js';
import { planMatMul } from './plan.js';
import { forEachSlice, transposeLast2 } from './slices.js';
import { runStock, type FastKernelContext } from './batch-matmul.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];
type FusedGemm = (aId: number, bId: number, outId: number) => void;

/** Must match `FusableActivation` in tfjs-backend-wasm (cc/fusable_activations.h). */
const ACTIVATIONS: Record<string, number> = {
  linear: 0,
  relu: 1,
  relu6: 2,
  prelu: 3,
  leakyrelu: 4,
  sigmoid: 5,
  elu: 6,
};

interface FusedInputs {
  a: tf.TensorInfo;
  b: tf.TensorInfo;
  bias?: tf.TensorInfo | null;
  preluActivationWeights?: tf.TensorInfo | null;
}

interface FusedAttrs {
  transposeA?: boolean;
  transposeB?: boolean;
  activation?: string;
  leakyreluAlpha?: number;
}

const size = (t: tf.TensorInfo): number => t.shape.reduce((p, x) => p * x, 1);

/** The fast `_FusedMatMul` config for the wasm backend, wrapping `ctx.stock`. */
export function fastFusedMatMulConfig(ctx: FastKernelContext): tf.KernelConfig {
  const { stock } = ctx;
  let cwrapped: ((...args: unknown[]) => unknown) | undefined;

  function setup(backend: object): void {
    stock.setupFunc?.(backend);
    const types = ['number', 'array', 'number', 'number', 'array', 'number'] as const;
    cwrapped = asWasmBackend(backend).wasm.cwrap('_FusedMatMul', null, [
      ...types,
      'number',
      'number',
      'number',
      'number',
      'number',
      'number',
      'number',
    ]);
  }

  function kernelFunc(args: KernelArgs): tf.TensorInfo {
    const inputs = args.inputs as unknown as FusedInputs;
    const attrs = (args.attrs ?? {}) as FusedAttrs;
    const { a, b, bias, preluActivationWeights: prelu } = inputs;
    const tA = !!attrs.transposeA;
    const tB = !!attrs.transposeB;
    const activation = ACTIVATIONS[attrs.activation ?? 'linear'];
    if (!ctx.enabled() || a.dtype !== 'float32' || b.dtype !== 'float32' || activation === undefined) {
      return runStock(stock, args);
    }
    const plan = planMatMul(a.shape, b.shape, tA, tB);
    const alreadyFast = !tA && !tB && plan.aBatch === 1 && plan.bBatch === 1;
    const badBias = bias != null && (bias.shape.length !== 1 || size(bias) !== plan.N);
    const slicedPrelu = plan.bBatch !== 1 && prelu != null;
    if (alreadyFast || badBias || slicedPrelu || plan.M * plan.K * plan.N * plan.outBatch === 0) {
      return runStock(stock, args);
    }

    const backend = asWasmBackend(args.backend);
    const temps: tf.TensorInfo[] = [];
    try {
      const a2 = tA ? (temps[temps.length] = transposeLast2(backend, a)) : a;
      const b2 = tB ? (temps[temps.length] = transposeLast2(backend, b)) : b;
      const outShape = [...plan.outBatchShape, plan.M, plan.N];
      if (plan.bBatch === 1) {
        // The stock fused kernel reads rank-3 shapes; fold the batch of `a` into its rows.
        const out = runStock(stock, {
          inputs: {
            ...(args.inputs as object),
            a: { dataId: a2.dataId, dtype: 'float32', shape: [1, plan.aBatch * plan.M, plan.K] },
            b: { dataId: b2.dataId, dtype: 'float32', shape: [1, plan.K, plan.N] },
          },
          backend,
          attrs: { ...attrs, transposeA: false, transposeB: false },
        });
        out.shape = outShape;
        return out;
      }
      if (!cwrapped) setup(backend);
      const call = cwrapped as (...args: unknown[]) => unknown;
      const aShape = shapeBytes([1, plan.M, plan.K]);
      const bShape = shapeBytes([1, plan.K, plan.N]);
      const biasId = bias ? tensorData(backend, bias).id : 0;
      const alpha = attrs.leakyreluAlpha ?? 0;
      const gemm: FusedGemm = (aId, bId, outId) =>
        call(aId, aShape, 3, bId, bShape, 3, 0, 0, activation, biasId, 0, alpha, outId);
      const out = backend.makeOutput(outShape, 'float32');
      try {
        forEachSlice(backend, plan, a2, b2, out, gemm);
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

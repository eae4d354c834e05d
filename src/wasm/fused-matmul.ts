/**
 * A faster wasm `_FusedMatMul` (matMul + bias + activation, used by `tf.fused.matMul` and by
 * tf.layers). Same problem and same cure as {@link fastBatchMatMulConfig}: the stock C++ kernel
 * takes XNNPACK only without transpose flags and without a batch; otherwise a scalar loop, which
 * also reads the bias wrongly for rows after the first. Here flags become physical transposes and
 * batches become folded rows or per-slice fast-path calls.
 *
 * As there, `b` (and the bias) reach the C++ as fresh view ids, which also avoids the stock
 * kernel's stale-weights bug after a reshape.
 *
 * With the native AVX2 matMul (src/native/), products without prelu go to it, bias and activation
 * included (src/wasm/native-matmul.ts).
 *
 * Left to the stock kernel: non-float32 and empty tensors, a bias whose size is not N (the XNNPACK
 * path reads N values), and prelu on a doubly batched product (its weights are indexed over the
 * whole output, which a slice does not see).
 */
import type * as tf from '@tensorflow/tfjs';
import { asWasmBackend, disposeView, makeView, shapeBytes, tensorData } from './internals.js';
import { planMatMul } from './plan.js';
import { forEachSlice, transposeLast2 } from './slices.js';
import { foldBatch, runStock, type FastKernelContext } from './batch-matmul.js';
import { nativeMatMul } from '../native/index.js';
import { nativeProduct } from './native-matmul.js';

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
    const slices = foldBatch(plan);
    const badBias = bias != null && (bias.shape.length !== 1 || size(bias) !== plan.N);
    const slicedPrelu = slices.outBatch !== 1 && prelu != null;
    if (badBias || slicedPrelu || plan.M * plan.K * plan.N * plan.outBatch === 0)
      return runStock(stock, args);

    const backend = asWasmBackend(args.backend);
    const addon = nativeMatMul();
    if (addon && !prelu && (!bias || bias.dtype === 'float32')) {
      const alpha = attrs.leakyreluAlpha ?? 0;
      return nativeProduct(addon, backend, plan, a, b, tA, tB, { bias, activation, alpha });
    }
    if (!cwrapped) setup(backend);
    const call = cwrapped as (...args: unknown[]) => unknown;
    const temps: tf.TensorInfo[] = [];
    // Bias and prelu weights go in as fresh views too: the C++ caches operators under their ids.
    const biasView = bias ? makeView(backend, tensorData(backend, bias).memoryOffset, plan.N) : 0;
    const preluView = prelu ? makeView(backend, tensorData(backend, prelu).memoryOffset, size(prelu)) : 0;
    try {
      const a2 = tA ? (temps[temps.length] = transposeLast2(backend, a)) : a;
      const b2 = tB ? (temps[temps.length] = transposeLast2(backend, b)) : b;
      const aShape = shapeBytes([1, slices.M, slices.K]);
      const bShape = shapeBytes([1, slices.K, slices.N]);
      const alpha = attrs.leakyreluAlpha ?? 0;
      const gemm: FusedGemm = (aId, bId, outId) =>
        call(aId, aShape, 3, bId, bShape, 3, 0, 0, activation, biasView, preluView, alpha, outId);
      const out = backend.makeOutput([...plan.outBatchShape, plan.M, plan.N], 'float32');
      try {
        forEachSlice(backend, slices, a2, b2, out, gemm);
      } catch (e) {
        backend.disposeData(out.dataId);
        throw e;
      }
      return out;
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
      if (biasView) disposeView(backend, biasView);
      if (preluView) disposeView(backend, preluView);
    }
  }

  return { kernelName: stock.kernelName, backendName: 'wasm', setupFunc: setup, kernelFunc };
}

/**
 * `FprlAdam`: one fused Adam step for the wasm backend on the native addon (src/native/): reads
 * the variable, its gradient and both moments once and writes the new values, where the op-by-op
 * update in src/train/optimizers.ts runs ~10 full passes (320 ms of a 1.9 s step for the 26.6M
 * weights of the `seed` preset). The native loop repeats the same float32 ops in the same order,
 * so the weights and moments are bit for bit those of the op-by-op update.
 *
 * Outputs are new tensors `[w', m', v']` (nothing is updated in place: a variable's data may be
 * shared). {@link fusedAdam} says whether the kernel can run now; the optimiser falls back to the
 * ops when it cannot (another backend, no addon, the kernels switched off, not float32).
 */
import * as tf from '@tensorflow/tfjs';
import { nativeMatMul } from '../native/index.js';
import { asWasmBackend, float32View } from './internals.js';

export const FPRL_ADAM = 'FprlAdam';

/** The step's scalars as the optimiser computes them (float64; rounded to float32 as tfjs does). */
export interface AdamAttrs {
  b1: number;
  b2: number;
  /** 1 - b1^t and 1 - b2^t. */
  bc1: number;
  bc2: number;
  eps: number;
  lr: number;
  wd: number;
  /** Weight decay added to the gradient (adam) or to the step (adamw); neither when both false. */
  l2: boolean;
  decoupled: boolean;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

const adamConfig: tf.KernelConfig = {
  kernelName: FPRL_ADAM,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend: b, attrs }: KernelArgs) => {
    const addon = nativeMatMul();
    if (!addon) throw new Error(`${FPRL_ADAM} needs the native addon (check fusedAdam() first)`);
    const { w, g, m, v } = inputs as Record<'w' | 'g' | 'm' | 'v', tf.TensorInfo>;
    const a = attrs as unknown as AdamAttrs;
    const backend = asWasmBackend(b);
    const outs = [w, m, v].map((t) => backend.makeOutput([...t.shape], 'float32'));
    const view = (t: tf.TensorInfo) => float32View(backend, t);
    addon.adam(
      view(w),
      view(g),
      view(m),
      view(v),
      view(outs[0]),
      view(outs[1]),
      view(outs[2]),
      Float64Array.of(a.b1, 1 - a.b1, a.b2, 1 - a.b2, a.bc1, a.bc2, a.eps, a.lr, a.wd),
      a.l2,
      a.decoupled,
    );
    return outs;
  },
};

let registered = false;

/** Register `FprlAdam` on the wasm backend (initBackend does; idempotent). */
export function registerFusedAdam(): void {
  if (registered) return;
  tf.registerKernel(adamConfig);
  registered = true;
}

/**
 * The fused step `[w', m', v']` for these tensors, or undefined when it cannot run now (the caller
 * then runs the ops). The caller owns the outputs.
 */
export function fusedAdam(
  tensors: { w: tf.Tensor; g: tf.Tensor; m: tf.Tensor; v: tf.Tensor },
  attrs: AdamAttrs,
): tf.Tensor[] | undefined {
  if (!registered || tf.getBackend() !== 'wasm' || !nativeMatMul()) return undefined;
  const { w, g, m, v } = tensors;
  if ([w, g, m, v].some((t) => t.dtype !== 'float32' || t.size !== w.size) || w.size === 0) return undefined;
  return tf.engine().runKernel(FPRL_ADAM, { w, g, m, v }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
}

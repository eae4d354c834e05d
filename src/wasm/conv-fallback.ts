/**
 * The convolutions without the native addon: im2col / col2im in TypeScript (src/wasm/im2col.ts)
 * and the products through the wasm backend's registered `BatchMatMul` kernel, which sends them to
 * XNNPACK (src/wasm/batch-matmul.ts: transposes, swaps and split-K included), the route every
 * matMul takes without the addon. Each chunk's column matrix is a wasm tensor freed after its
 * product, so the heap holds at most a chunk and reuses that memory call after call.
 */
import * as tf from '@tensorflow/tfjs';
import { float32View, type WasmBackend } from './internals.js';
import {
  col2im,
  computedOutput,
  forEachChunk,
  im2col,
  isPointwise,
  outputPixels,
  patchSize,
  type ConvGeometry,
  type ConvRoute,
} from './im2col.js';

/** op(a) @ op(b) by the registered wasm matMul kernel, as a new tensor the caller owns. */
function matMul(
  backend: WasmBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  tA: boolean,
  tB: boolean,
): tf.TensorInfo {
  const kernel = tf.getKernel(tf.BatchMatMul, 'wasm');
  if (!kernel) throw new Error('fprl conv kernels: no wasm BatchMatMul kernel is registered');
  return kernel.kernelFunc({
    inputs: { a, b },
    backend,
    attrs: { transposeA: tA, transposeB: tB },
  }) as tf.TensorInfo;
}

/** `t`'s data as a `[rows, cols]` matrix: a reshape, no copy. */
const matrix = (t: tf.TensorInfo, rows: number, cols: number): tf.TensorInfo => ({
  dataId: t.dataId,
  shape: [rows, cols],
  dtype: t.dtype,
});

/** A matMul result under the convolution's shape (the same data). */
function reshaped(t: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  t.shape = shape;
  return t;
}

type Own = (t: tf.TensorInfo) => tf.TensorInfo;

/** Run `fn` with an `own` that marks tensors to free when it returns or throws. */
function scoped(backend: WasmBackend, fn: (own: Own) => void): void {
  const owned: tf.TensorInfo[] = [];
  try {
    fn((t) => (owned.push(t), t));
  } finally {
    for (const t of owned) backend.disposeData(t.dataId);
  }
}

/** The columns of output pixels [p0, p0 + rows), as a new `[rows, kH*kW*C]` tensor. */
function columns(
  backend: WasmBackend,
  g: ConvGeometry,
  x: tf.TensorInfo,
  p0: number,
  rows: number,
): tf.TensorInfo {
  const cols = backend.makeOutput([rows, patchSize(g)], 'float32');
  im2col(float32View(backend, x), float32View(backend, cols), g, p0, rows);
  return cols;
}

/** Rows [p0, p0 + rows) of dy `[P,O]` as a matrix: dy itself when that is all of it, else an owned copy. */
function dyRows(
  backend: WasmBackend,
  g: ConvGeometry,
  dy: tf.TensorInfo,
  p0: number,
  rows: number,
  own: Own,
): tf.TensorInfo {
  if (rows === outputPixels(g)) return matrix(dy, rows, g.O);
  const out = own(backend.makeOutput([rows, g.O], 'float32'));
  float32View(backend, out).set(float32View(backend, dy).subarray(p0 * g.O, (p0 + rows) * g.O));
  return out;
}

/** The three passes on XNNPACK with the TypeScript data movement. */
export const fallbackConvRoute: ConvRoute = {
  forward(backend, g, x, w) {
    const [P, K] = [outputPixels(g), patchSize(g)];
    const shape = [g.B, g.outH, g.outW, g.O];
    if (isPointwise(g))
      return reshaped(matMul(backend, matrix(x, P, K), matrix(w, K, g.O), false, false), shape);
    return computedOutput(backend, shape, (out) =>
      forEachChunk(g, (p0, rows) =>
        scoped(backend, (own) => {
          const cols = own(columns(backend, g, x, p0, rows));
          const part = own(matMul(backend, cols, matrix(w, K, g.O), false, false));
          float32View(backend, out).set(float32View(backend, part), p0 * g.O);
        }),
      ),
    );
  },

  inputGradient(backend, g, dy, w) {
    const [P, K] = [outputPixels(g), patchSize(g)];
    const shape = [g.B, g.H, g.W, g.C];
    if (isPointwise(g))
      return reshaped(matMul(backend, matrix(dy, P, g.O), matrix(w, g.C, g.O), false, true), shape);
    return computedOutput(backend, shape, (dx) => {
      float32View(backend, dx).fill(0);
      forEachChunk(g, (p0, rows) =>
        scoped(backend, (own) => {
          const d = dyRows(backend, g, dy, p0, rows, own);
          const dcols = own(matMul(backend, d, matrix(w, K, g.O), false, true));
          col2im(float32View(backend, dcols), float32View(backend, dx), g, p0, rows);
        }),
      );
    });
  },

  filterGradient(backend, g, x, dy) {
    const [P, K] = [outputPixels(g), patchSize(g)];
    const shape = [g.kH, g.kW, g.C, g.O];
    if (isPointwise(g))
      return reshaped(matMul(backend, matrix(x, P, K), matrix(dy, P, g.O), true, false), shape);
    return computedOutput(backend, shape, (dw) =>
      forEachChunk(g, (p0, rows) =>
        scoped(backend, (own) => {
          const cols = own(columns(backend, g, x, p0, rows));
          const d = dyRows(backend, g, dy, p0, rows, own);
          const part = float32View(backend, own(matMul(backend, cols, d, true, false)));
          // The first chunk's product is dw; each later one is added in order (reproducible).
          const sum = float32View(backend, dw);
          if (p0 === 0) sum.set(part);
          else for (let i = 0; i < sum.length; i++) sum[i] += part[i];
        }),
      ),
    );
  },
};

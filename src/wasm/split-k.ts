/**
 * Long contractions in chunks. XNNPACK's f32 GEMM does not block the contracted dimension K: each
 * output tile streams a K-long panel of packed weights, which stops fitting in cache for long K
 * (measured: `[512,11264] x [11264,512]` at 16 GFLOP/s, against 27 GFLOP/s as five products with
 * K = 2253 summed). So a 2-D product with K above {@link SPLIT_K_ABOVE} is computed as a sum of
 * products over K chunks: rows of `b` are contiguous (a view), columns of `a` are copied (one pass
 * over `a`), and partial results are added in JS. Weight gradients `X^T dY` of large batches
 * (K = batch x tokens) and the seed preset's head input gradient (K = 32*32*11) take this path.
 */
import type * as tf from '@tensorflow/tfjs';
import { disposeView, float32View, makeView, shapeBytes, tensorData, type WasmBackend } from './internals.js';
import { fastSlice } from './slice-kernel.js';

/** Contractions longer than this are split. */
export const SPLIT_K_ABOVE = 4096;
/** Target chunk length. */
const CHUNK = 2048;

/** Chunk lengths summing to K, about {@link CHUNK} each, multiples of 8 except the last. */
export function kChunks(K: number): number[] {
  const n = Math.ceil(K / CHUNK);
  const size = Math.ceil(K / n / 8) * 8;
  const out: number[] = [];
  for (let k = 0; k < K; k += size) out.push(Math.min(size, K - k));
  return out;
}

type Gemm = (aId: number, aShape: Uint8Array, bId: number, bShape: Uint8Array, outId: number) => void;

/**
 * out [M,N] = a [M,K] @ b [K,N] in K chunks (a and b physically in that layout; out allocated by
 * the caller).
 */
export function splitKProduct(
  backend: WasmBackend,
  M: number,
  K: number,
  N: number,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  out: tf.TensorInfo,
  gemm: Gemm,
): void {
  const a2d: tf.TensorInfo = { dataId: a.dataId, dtype: 'float32', shape: [M, K] };
  const bOffset = tensorData(backend, b).memoryOffset;
  const partial = backend.makeOutput([M, N], 'float32');
  try {
    let k0 = 0;
    for (const kc of kChunks(K)) {
      const target = k0 === 0 ? out : partial;
      const aChunk = fastSlice(backend, a2d, [0, k0], [M, kc]);
      const bView = makeView(backend, bOffset + k0 * N * 4, kc * N);
      try {
        gemm(
          tensorData(backend, aChunk).id,
          shapeBytes([1, M, kc]),
          bView,
          shapeBytes([1, kc, N]),
          tensorData(backend, target).id,
        );
      } finally {
        disposeView(backend, bView);
        backend.disposeData(aChunk.dataId);
      }
      if (k0 > 0) {
        const acc = float32View(backend, out);
        const add = float32View(backend, partial);
        for (let i = 0; i < acc.length; i++) acc[i] += add[i];
      }
      k0 += kc;
    }
  } finally {
    backend.disposeData(partial.dataId);
  }
}

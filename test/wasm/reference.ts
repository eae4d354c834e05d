/**
 * An independent oracle for the matMul tests: a plain triple loop in float64 with numpy
 * broadcasting of the batch dimensions, on flat row-major arrays.
 */
import { Rng } from '../../src/core/rng.js';

export interface Operand {
  shape: number[];
  data: Float32Array;
}

/** Standard-normal data from a seeded stream. */
export function randomOperand(shape: number[], rng: Rng): Operand {
  const data = new Float32Array(shape.reduce((p, x) => p * x, 1));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return { shape, data };
}

/** out = op(a) @ op(b), op = transpose of the last two dims when the flag is set. */
export function referenceMatMul(a: Operand, b: Operand, transposeA: boolean, transposeB: boolean): Operand {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const [aRows, aCols] = [a.shape[ra - 2], a.shape[ra - 1]];
  const [bRows, bCols] = [b.shape[rb - 2], b.shape[rb - 1]];
  const M = transposeA ? aCols : aRows;
  const K = transposeA ? aRows : aCols;
  const N = transposeB ? bRows : bCols;
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const rank = Math.max(aBatch.length, bBatch.length);
  const outBatch: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = aBatch[aBatch.length - rank + i] ?? 1;
    const db = bBatch[bBatch.length - rank + i] ?? 1;
    outBatch.push(Math.max(da, db));
  }
  const batches = outBatch.reduce((p, x) => p * x, 1);
  const out = new Float32Array(batches * M * N);
  const flatIndex = (idx: number[], shape: number[]): number => {
    let f = 0;
    for (let i = 0; i < shape.length; i++)
      f = f * shape[i] + (shape[i] === 1 ? 0 : idx[rank - shape.length + i]);
    return f;
  };
  for (let o = 0; o < batches; o++) {
    const idx: number[] = [];
    for (let i = rank - 1, r = o; i >= 0; i--) {
      idx[i] = r % outBatch[i];
      r = Math.floor(r / outBatch[i]);
    }
    const aOff = flatIndex(idx, aBatch) * M * K;
    const bOff = flatIndex(idx, bBatch) * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = a.data[aOff + (transposeA ? k * M + m : m * K + k)];
          const bv = b.data[bOff + (transposeB ? n * K + k : k * N + n)];
          s += av * bv;
        }
        out[(o * M + m) * N + n] = s;
      }
    }
  }
  return { shape: [...outBatch, M, N], data: out };
}

/** Largest |x - y| over two equally long arrays. */
export function maxAbsDiff(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new Error(`length ${x.length} != ${y.length}`);
  let d = 0;
  for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  return d;
}

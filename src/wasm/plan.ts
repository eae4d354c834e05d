/**
 * Shape arithmetic of a batched matMul `[...batchA, M, K] x [...batchB, K, N] -> [...batch, M, N]`
 * (after the transpose flags), with numpy broadcasting of the batch dimensions.
 */

export interface MatMulPlan {
  /** Rows of the result (`a`'s outer dimension). */
  M: number;
  /** The contracted dimension. */
  K: number;
  /** Columns of the result (`b`'s outer dimension). */
  N: number;
  aBatchShape: number[];
  bBatchShape: number[];
  /** Broadcast of the two batch shapes. */
  outBatchShape: number[];
  aBatch: number;
  bBatch: number;
  outBatch: number;
}

const product = (xs: readonly number[]): number => xs.reduce((p, x) => p * x, 1);

/** Numpy broadcast of two shapes; undefined when they do not broadcast. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | undefined {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return undefined;
    out.push(da === 1 ? db : da);
  }
  return out;
}

/**
 * Plan a matMul. Throws the same kind of message as tfjs when the shapes do not fit, so a bad call
 * fails the same way with and without the fast kernels.
 */
export function planMatMul(
  aShape: readonly number[],
  bShape: readonly number[],
  transposeA: boolean,
  transposeB: boolean,
): MatMulPlan {
  const ra = aShape.length;
  const rb = bShape.length;
  if (ra < 2 || rb < 2) {
    throw new Error(`Error in matMul: inputs must be at least rank 2, got shapes ${aShape} and ${bShape}.`);
  }
  const K = transposeA ? aShape[ra - 2] : aShape[ra - 1];
  const Kb = transposeB ? bShape[rb - 1] : bShape[rb - 2];
  const M = transposeA ? aShape[ra - 1] : aShape[ra - 2];
  const N = transposeB ? bShape[rb - 2] : bShape[rb - 1];
  if (K !== Kb) {
    throw new Error(
      `Error in matMul: inner shapes (${K}) and (${Kb}) of Tensors with shapes ${aShape} and ${bShape} ` +
        `and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  const aBatchShape = aShape.slice(0, -2);
  const bBatchShape = bShape.slice(0, -2);
  const outBatchShape = broadcastShapes(aBatchShape, bBatchShape);
  if (!outBatchShape) {
    throw new Error(`Operands could not be broadcast together with shapes ${aShape} and ${bShape}.`);
  }
  return {
    M,
    K,
    N,
    aBatchShape,
    bBatchShape,
    outBatchShape,
    aBatch: product(aBatchShape),
    bBatch: product(bBatchShape),
    outBatch: product(outBatchShape),
  };
}

/**
 * For each flat index of `outShape`, the flat index of the (right-aligned, broadcast) element of
 * `inShape` it reads: `[2,3]` from `[1,3]` gives `[0,1,2,0,1,2]`.
 */
export function broadcastIndices(outShape: readonly number[], inShape: readonly number[]): Int32Array {
  const size = product(outShape);
  const rank = outShape.length;
  // Stride of each output dimension in the input (0 where the input broadcasts).
  const inStrides = new Array<number>(rank).fill(0);
  let stride = 1;
  for (let i = rank - 1; i >= 0; i--) {
    const dim = inShape[inShape.length - rank + i] ?? 1;
    inStrides[i] = dim === 1 ? 0 : stride;
    stride *= dim;
  }
  const out = new Int32Array(size);
  const idx = new Array<number>(rank).fill(0);
  let inFlat = 0;
  for (let f = 0; f < size; f++) {
    out[f] = inFlat;
    // Odometer increment over outShape, updating the input offset incrementally.
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      inFlat += inStrides[d];
      if (idx[d] < outShape[d]) break;
      inFlat -= inStrides[d] * idx[d];
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * Per-pixel categorical sampling in JS from one read of the probabilities: faster than a tf
 * multinomial per pixel, and every draw comes from the agent's seeded stream.
 */
import type { Rng } from '../src/rng.js';

/**
 * Draw `k` labellings from `probs` [N*C] (rows of C probabilities, e.g. N = B*H*W pixels).
 * Returns [k*N] int32, sample-major (sample j of pixel i at `j*N + i`).
 */
export function sampleCategorical(probs: Float32Array, numClasses: number, k: number, rng: Rng): Int32Array {
  const C = numClasses;
  const n = probs.length / C;
  const out = new Int32Array(k * n);
  for (let j = 0; j < k; j++) {
    const base = j * n;
    for (let i = 0; i < n; i++) {
      const row = i * C;
      const u = rng.next();
      let acc = 0;
      let a = C - 1;
      for (let c = 0; c < C; c++) {
        acc += probs[row + c];
        if (u < acc) {
          a = c;
          break;
        }
      }
      // Rounding can leave the running sum just below u; the fallback must be a class with mass.
      if (acc <= u) while (a > 0 && probs[row + a] === 0) a--;
      out[base + i] = a;
    }
  }
  return out;
}

/** Index of the largest value in each row of C: [N*C] -> [N]. Ties go to the lowest class. */
export function argmaxRows(values: ArrayLike<number>, numClasses: number): Int32Array {
  const n = values.length / numClasses;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const row = i * numClasses;
    let best = 0;
    let bv = values[row];
    for (let c = 1; c < numClasses; c++) {
      if (values[row + c] > bv) {
        bv = values[row + c];
        best = c;
      }
    }
    out[i] = best;
  }
  return out;
}

/**
 * Per-pixel categorical sampling in JS from one read of the probabilities: faster than a tf
 * multinomial per pixel, and every draw comes from the agent's seeded stream.
 */
import type { Rng } from '../../src/core/rng.js';
import { nativeAddon } from '../../src/native/index.js';

/**
 * Draw `k` labellings from `probs` [N*C] (rows of C probabilities, e.g. N = B*H*W pixels).
 * Returns [k*N] int32, sample-major (sample j of pixel i at `j*N + i`). Sample j of pixel i uses
 * uniform number j*N + i of the stream (all k*N are drawn first, in that order). The native addon
 * (src/native/bandit.cc) runs the same search when built, with the same result.
 */
export function sampleCategorical(probs: Float32Array, numClasses: number, k: number, rng: Rng): Int32Array {
  return sampleFrom(probs, numClasses, k, rng.fill(new Float64Array((k * probs.length) / numClasses)));
}

/**
 * {@link sampleCategorical} with the uniforms given ([k*N], draw j of pixel i at j*N + i), on
 * the native addon when built (the same result): a data-parallel shard samples its own pixels
 * with its slice of the batch's draws.
 */
export function sampleFrom(probs: Float32Array, numClasses: number, k: number, u: Float64Array): Int32Array {
  const out = new Int32Array(u.length);
  const addon = nativeAddon();
  if (addon) addon.sample(probs, u, numClasses, k, out);
  else sampleWithUniforms(probs, numClasses, k, u, out);
  return out;
}

/**
 * The search of {@link sampleCategorical} given the uniforms `u` [k*N]: the first class whose
 * running sum exceeds the draw (sums of each row computed once for its k draws, in float64).
 */
function sampleWithUniforms(
  probs: Float32Array,
  numClasses: number,
  k: number,
  u: Float64Array,
  out: Int32Array,
): Int32Array {
  const C = numClasses;
  const n = probs.length / C;
  const cdf = new Float64Array(C);
  for (let i = 0; i < n; i++) {
    const row = i * C;
    let acc = 0;
    for (let c = 0; c < C; c++) cdf[c] = acc += probs[row + c];
    for (let j = 0; j < k; j++) {
      const x = u[j * n + i];
      let a = 0;
      while (a < C && !(x < cdf[a])) a++;
      if (a === C) {
        a = C - 1;
        // Rounding can leave the total just below x; the fallback must be a class with mass.
        if (cdf[C - 1] <= x) while (a > 0 && probs[row + a] === 0) a--;
      }
      out[j * n + i] = a;
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

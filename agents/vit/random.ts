/**
 * Bulk random numbers for weight initialisation and dropout masks, seeded from an {@link Rng}.
 *
 * Why not `Rng` or `tf.dropout` per element: a training step of `ti16-256` at batch 8 draws ~23M
 * dropout decisions. tf.dropout draws each with seedrandom in JS and then runs four full-size ops
 * (add, floor, div, mul); here a tight sfc32 loop makes the mask and one mul applies it (measured
 * ~1.5-2x faster than tf.dropout on a [24,256,256] tensor on wasm, on the shared 2-core machine).
 * Every stream is seeded by 96 bits drawn from the caller's Rng, so the same Rng state gives the
 * same numbers, on every backend.
 */
import type { Rng } from '../../src/core/rng.js';
import { nativeAddon } from '../../src/native/addon.js';

/**
 * Chris Doty-Humphrey's Small Fast Counting generator (sfc32). The fill loop keeps the state in
 * local int32 variables: a method call per number returning a uint32 (above V8's small-integer
 * range) would box it as a heap double.
 */
export class BulkRandom {
  private s = new Int32Array(4);

  constructor(rng: Rng) {
    this.s[0] = rng.seed32();
    this.s[1] = rng.seed32();
    this.s[2] = rng.seed32();
    this.s[3] = 1; // the counter; starting at 1 keeps an all-zero seed away from the zero state
    this.fillInt32(new Int32Array(12));
  }

  /** Fill with uniform 32-bit integers (as signed int32). */
  fillInt32(out: Int32Array): Int32Array {
    const s = this.s;
    let a = s[0];
    let b = s[1];
    let c = s[2];
    let d = s[3];
    for (let i = 0; i < out.length; i++) {
      const t = (((a + b) | 0) + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (c << 21) | (c >>> 11);
      c = (c + t) | 0;
      out[i] = t;
    }
    s[0] = a;
    s[1] = b;
    s[2] = c;
    s[3] = d;
    return out;
  }

  /** Fill with uniform values in [lo, hi) (32 bits of resolution). */
  fillUniform(out: Float32Array, lo: number, hi: number): Float32Array {
    const bits = this.fillInt32(new Int32Array(out.length));
    const scale = (hi - lo) / 4294967296;
    for (let i = 0; i < out.length; i++) out[i] = lo + (bits[i] >>> 0) * scale;
    return out;
  }

  /** Fill with normal(0, std) values truncated to [-2 std, 2 std] (redrawn outside, as tf.truncatedNormal). */
  fillTruncatedNormal(out: Float32Array, std: number): Float32Array {
    const bits = new Int32Array(2 * 1024);
    let i = 0;
    while (i < out.length) {
      this.fillInt32(bits);
      // Box-Muller: two independent normals per pair of uniforms; u in (0, 1] keeps log finite.
      for (let j = 0; j < bits.length && i < out.length; j += 2) {
        const u = 1 - (bits[j] >>> 0) / 4294967296;
        const v = (bits[j + 1] >>> 0) / 4294967296;
        const r = Math.sqrt(-2 * Math.log(u));
        const z0 = r * Math.cos(2 * Math.PI * v);
        const z1 = r * Math.sin(2 * Math.PI * v);
        if (z0 >= -2 && z0 <= 2) out[i++] = z0 * std;
        if (i < out.length && z1 >= -2 && z1 <= 2) out[i++] = z1 * std;
      }
    }
    return out;
  }

  /**
   * Inverted-dropout mask: each entry is 0 with probability `rate`, else 1 / (1 - rate), so
   * `x * mask` keeps the expectation of x (as tf.dropout and torch.nn.Dropout).
   */
  dropoutMask(size: number, rate: number): Float32Array {
    const out = new Float32Array(size);
    const { keep, threshold } = dropoutDecision(rate);
    const addon = nativeAddon();
    if (addon) {
      // The same sfc32 words and the same compare in the native addon (src/native/bandit.cc).
      addon.dropoutMask(this.s, out, threshold, keep);
      return out;
    }
    const bits = this.fillInt32(new Int32Array(out.buffer));
    // Branch-free: the keep/drop decision is random, so a branch mispredicts often.
    for (let i = 0; i < size; i++) out[i] = keep * +((bits[i] ^ -2147483648) >= threshold);
    return out;
  }

  /**
   * A copy of the generator's state [a, b, c, counter], for a kernel that draws the same words
   * itself (the fused dropout of ops.ts, one generator per call, not used after).
   */
  state(): Int32Array {
    return Int32Array.from(this.s);
  }
}

/** A dropout rate's keep factor 1 / (1 - rate) and the signed-int32 threshold its words are compared with. */
export function dropoutDecision(rate: number): { keep: number; threshold: number } {
  // Unsigned u < rate * 2^32, compared in signed int32: flip the sign bit of both sides.
  return { keep: 1 / (1 - rate), threshold: (Math.floor(rate * 4294967296) ^ -2147483648) | 0 };
}

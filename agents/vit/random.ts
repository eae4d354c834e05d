/**
 * Bulk random numbers for weight initialisation and dropout masks, seeded from an {@link Rng}.
 *
 * Why not `Rng` directly or `tf.dropout`: a training step of `ti16-256` at batch 8 draws ~23M
 * dropout decisions. tf.randomUniform costs ~20 ns per number here (~0.5 s per step, plus three
 * extra full-size ops inside tf.dropout) and `Rng.next` ~6 ns; sfc32 (PractRand-clean, 128-bit
 * state) costs ~1-2 ns. Every stream is still seeded by 128 bits drawn from the caller's Rng, so
 * the same Rng state gives the same numbers.
 */
import type { Rng } from '../../src/rng.js';

/** Chris Doty-Humphrey's Small Fast Counting generator (sfc32). */
export class BulkRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(rng: Rng) {
    this.a = rng.seed32() | 0;
    this.b = rng.seed32() | 0;
    this.c = rng.seed32() | 0;
    this.d = 1; // the counter; starting at 1 keeps an all-zero seed away from the zero state
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Fill with uniform values in [lo, hi). */
  fillUniform(out: Float32Array, lo: number, hi: number): Float32Array {
    const scale = (hi - lo) / 4294967296;
    for (let i = 0; i < out.length; i++) out[i] = lo + this.u32() * scale;
    return out;
  }

  /** Fill with normal(0, std) values truncated to [-2 std, 2 std] (redrawn outside, as tf.truncatedNormal). */
  fillTruncatedNormal(out: Float32Array, std: number): Float32Array {
    let i = 0;
    while (i < out.length) {
      // Box-Muller gives two independent normals per pair of uniforms.
      const u = 1 - this.next();
      const v = this.next();
      const r = Math.sqrt(-2 * Math.log(u));
      const z0 = r * Math.cos(2 * Math.PI * v);
      const z1 = r * Math.sin(2 * Math.PI * v);
      if (z0 >= -2 && z0 <= 2) out[i++] = z0 * std;
      if (i < out.length && z1 >= -2 && z1 <= 2) out[i++] = z1 * std;
    }
    return out;
  }

  /**
   * Inverted-dropout mask: each entry is 0 with probability `rate`, else 1 / (1 - rate), so
   * `x * mask` keeps the expectation of x (as tf.dropout and torch.nn.Dropout).
   */
  dropoutMask(size: number, rate: number): Float32Array {
    const out = new Float32Array(size);
    const keep = 1 / (1 - rate);
    const threshold = Math.floor(rate * 4294967296);
    for (let i = 0; i < size; i++) out[i] = this.u32() < threshold ? 0 : keep;
    return out;
  }
}

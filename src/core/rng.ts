import seedrandom from 'seedrandom';

/** Serialisable state of an {@link Rng}, stored in checkpoints so training resumes exactly. */
export type RngState = { label: string; state: object; seed?: string };

/**
 * A seeded random stream. Every random draw in the project goes through one of these
 * (lint forbids Math.random). Streams are derived with {@link Rng.fork} so adding draws
 * in one place never shifts the numbers drawn elsewhere.
 */
export class Rng {
  // Alea's state (Baagoe's generator, as in seedrandom.alea): three fractions and a carry. The
  // generator runs here rather than through seedrandom's closure so that bulk draws
  // ({@link Rng.fill}: millions per REINFORCE step) cost a few ns each; seeding (the string hash)
  // and the state format stay seedrandom's, and the draws are bit-identical to it (tested).
  private s0: number;
  private s1: number;
  private s2: number;
  private c: number;
  readonly label: string;
  /** The root seed, inherited by forks so streams of different seeds differ. */
  readonly seed: string;

  constructor(seed: number | string, label = 'root', state?: object) {
    this.label = `${label}`;
    this.seed = `${seed}`;
    const key = `${seed}/${label}`;
    const st = (state ?? seedrandom.alea(key, { state: true }).state()) as seedrandom.State.Alea;
    this.s0 = st.s0;
    this.s1 = st.s1;
    this.s2 = st.s2;
    this.c = st.c;
  }

  /** A new independent stream derived from this stream's seed, its label and `label` (not its draws). */
  fork(label: string): Rng {
    return new Rng(this.seed, `${this.label}/${label}`);
  }

  /** Uniform in [0, 1). */
  next(): number {
    const t = 2091639 * this.s0 + this.c * 2.3283064365386963e-10; // 2^-32
    this.s0 = this.s1;
    this.s1 = this.s2;
    this.c = t | 0;
    return (this.s2 = t - this.c);
  }

  /** Fill `out` with uniforms in [0, 1): the same numbers as `out.length` calls of {@link Rng.next}. */
  fill(out: Float64Array): Float64Array {
    let { s0, s1, s2, c } = this;
    for (let i = 0; i < out.length; i++) {
      const t = 2091639 * s0 + c * 2.3283064365386963e-10;
      s0 = s1;
      s1 = s2;
      c = t | 0;
      out[i] = s2 = t - c;
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.c = c;
    return out;
  }

  /** Uniform in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer in [lo, hi). */
  int(lo: number, hi: number): number {
    return lo + Math.floor((hi - lo) * this.next());
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box-Muller). */
  normal(mean = 0, std = 1): number {
    const u = 1 - this.next();
    const v = this.next();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length)];
  }

  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** A 32-bit integer, e.g. to seed a tf random op. */
  seed32(): number {
    return ((this.next() * 0x100000000) | 0) >>> 0;
  }

  getState(): RngState {
    return {
      label: this.label,
      state: { c: this.c, s0: this.s0, s1: this.s1, s2: this.s2 },
      seed: this.seed,
    };
  }

  static fromState(s: RngState): Rng {
    return new Rng(s.seed ?? '', s.label, s.state);
  }
}

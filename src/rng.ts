import seedrandom from 'seedrandom';

/** Serialisable state of an {@link Rng}, stored in checkpoints so training resumes exactly. */
export type RngState = { label: string; state: object; seed?: string };

/**
 * A seeded random stream. Every random draw in the project goes through one of these
 * (lint forbids Math.random). Streams are derived with {@link Rng.fork} so adding draws
 * in one place never shifts the numbers drawn elsewhere.
 */
export class Rng {
  private prng: seedrandom.StatefulPRNG<seedrandom.State.Alea>;
  readonly label: string;
  /** The root seed, inherited by forks so streams of different seeds differ. */
  readonly seed: string;

  constructor(seed: number | string, label = 'root', state?: object) {
    this.label = `${label}`;
    this.seed = `${seed}`;
    const key = `${seed}/${label}`;
    this.prng = state
      ? seedrandom.alea('', { state: state as seedrandom.State.Alea })
      : seedrandom.alea(key, { state: true });
  }

  /** A new independent stream derived from this stream's seed, its label and `label` (not its draws). */
  fork(label: string): Rng {
    return new Rng(this.seed, `${this.label}/${label}`);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.prng();
  }

  /** Uniform in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.prng();
  }

  /** Integer in [lo, hi). */
  int(lo: number, hi: number): number {
    return lo + Math.floor((hi - lo) * this.prng());
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.prng() < p;
  }

  /** Standard normal (Box-Muller). */
  normal(mean = 0, std = 1): number {
    const u = 1 - this.prng();
    const v = this.prng();
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
    return this.prng.int32() >>> 0;
  }

  getState(): RngState {
    return { label: this.label, state: this.prng.state(), seed: this.seed };
  }

  static fromState(s: RngState): Rng {
    return new Rng(s.seed ?? '', s.label, s.state);
  }
}

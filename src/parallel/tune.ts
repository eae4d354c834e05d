/**
 * Picks how many of a data-parallel pool's threads compute, from the speed measured during the
 * run. On a shared machine the best count depends on the other jobs (measured on 2 cores: against
 * one busy single-threaded process two threads were 1.14x faster than one; against a two-threaded
 * PyTorch training they were 0.96x of one), and it changes while a long run trains, so a count
 * fixed at the start from the idle cores is right only by luck.
 *
 * The pool keeps its shards whatever the count (pool.ts: shards beyond the active threads run on
 * the main thread), so switching never changes a result: this is a speed choice only. The tuner
 * stays on a count and, every `period` steps, tries a neighbouring count for `probe` steps (the
 * first step after a switch is not timed: a worker that sat idle loads the weights first). It
 * moves when the probe's median step is at least `margin` faster than the median of the last
 * `probe` steps at the current count. After a probe that loses, the wait doubles (up to
 * `maxPeriod`); after a switch, or when the current count's steps get `slowdown` slower than
 * just after the last probe (the machine got busier), it probes again soon.
 *
 * Written here rather than taken from a library: it is a few lines of bookkeeping over step times,
 * and no package does thread counts for a pool of this shape.
 */

export interface TunerOptions {
  /** Most threads (the pool's shards). */
  max: number;
  /** Threads to start with (e.g. the free cores). */
  start: number;
  /** Steps between probes at first (default 30). */
  period?: number;
  /** Longest wait between probes (default 240). */
  maxPeriod?: number;
  /** Timed steps of a probe (default 3). */
  probe?: number;
  /** A probe wins when its median step is this much faster (default 0.04). */
  margin?: number;
  /** Probe again soon when steps get this much slower than after the last probe (default 0.15). */
  slowdown?: number;
}

/** One decision the tuner made (for logs). */
export interface TunerSwitch {
  /** Steps recorded when it was decided. */
  step: number;
  from: number;
  to: number;
  /** Median step time at `from` and at `to` (ms). */
  fromMs: number;
  toMs: number;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export class ThreadTuner {
  private readonly max: number;
  private readonly basePeriod: number;
  private readonly maxPeriod: number;
  private readonly probeSteps: number;
  private readonly margin: number;
  private readonly slowdown: number;
  private current: number;
  private period: number;
  /** Step times at `current` since the last switch or probe (the newest last). */
  private steady: number[] = [];
  /** The median at `current` just after the last probe: the reference for `slowdown`. */
  private reference: number | undefined;
  /** The count being tried, its timed steps, and whether its untimed first step is done. */
  private trying: { count: number; times: number[]; warm: boolean } | undefined;
  /** Which neighbour to try next when both exist. */
  private up = false;
  private steps = 0;
  readonly switches: TunerSwitch[] = [];

  constructor(opts: TunerOptions) {
    if (!Number.isInteger(opts.max) || opts.max < 1) throw new Error(`ThreadTuner: max must be >= 1, got ${opts.max}`);
    this.max = opts.max;
    this.current = Math.min(this.max, Math.max(1, Math.round(opts.start)));
    this.basePeriod = opts.period ?? 30;
    this.maxPeriod = Math.max(this.basePeriod, opts.maxPeriod ?? 240);
    this.probeSteps = Math.max(1, opts.probe ?? 3);
    this.margin = opts.margin ?? 0.04;
    this.slowdown = opts.slowdown ?? 0.15;
    this.period = this.basePeriod;
  }

  /** The threads the next step should use. */
  get threads(): number {
    return this.trying?.count ?? this.current;
  }

  /** Record the wall time of a step made at {@link threads}; returns the threads for the next step. */
  record(ms: number): number {
    this.steps++;
    if (this.trying) {
      const t = this.trying;
      if (!t.warm) t.warm = true;
      else t.times.push(ms);
      if (t.times.length >= this.probeSteps) this.decide(t.count, median(t.times));
      return this.threads;
    }
    this.steady.push(ms);
    if (this.steady.length > this.period) this.steady.shift();
    if (this.max === 1) return this.current;
    const now = this.steady.length >= this.probeSteps ? median(this.steady.slice(-this.probeSteps)) : undefined;
    const busier = now !== undefined && this.reference !== undefined && now > this.reference * (1 + this.slowdown);
    if (this.steady.length >= this.period || busier) {
      if (busier) this.period = this.basePeriod;
      this.startProbe();
    }
    return this.threads;
  }

  private startProbe(): void {
    const down = this.current - 1;
    const upCount = this.current + 1;
    const canUp = upCount <= this.max;
    const canDown = down >= 1;
    const count = canUp && canDown ? (this.up ? upCount : down) : canUp ? upCount : down;
    this.up = !this.up;
    this.trying = { count, times: [], warm: false };
  }

  private decide(count: number, probeMs: number): void {
    const at = median(this.steady.slice(-this.probeSteps));
    this.trying = undefined;
    if (probeMs < at * (1 - this.margin)) {
      this.switches.push({ step: this.steps, from: this.current, to: count, fromMs: at, toMs: probeMs });
      this.current = count;
      this.steady = [];
      this.reference = probeMs;
      this.period = this.basePeriod;
    } else {
      // Keep the recent times at the current count (the comparison's baseline), wait longer.
      this.steady = this.steady.slice(-this.probeSteps);
      this.reference = at;
      this.period = Math.min(this.maxPeriod, this.period * 2);
    }
  }
}

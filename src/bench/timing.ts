/**
 * Timing for benchmarks: wall time (what a user waits) and this process's CPU time (user +
 * system), whose ratio shows how much other processes took the cores during the measurement.
 * wasm kernels run synchronously, so no device sync is needed around a timed call.
 */
import os from 'node:os';

export interface Timing {
  /** Timed runs (after the warm-up). */
  runs: number;
  /** Mean wall milliseconds per run. */
  wallMs: number;
  /** Median wall milliseconds per run. */
  medianMs: number;
  /** Mean CPU milliseconds (user + system) of this process per run. */
  cpuMs: number;
}

export interface TimingOptions {
  /** Untimed runs first (JIT, XNNPACK operator caches, heap growth). Default 1. */
  warmup?: number;
  /** At least this many timed runs. Default 3. */
  minRuns?: number;
  /** Stop after this many timed runs. Default 1000. */
  maxRuns?: number;
  /** Keep running (up to maxRuns) until this much wall time has passed. Default 0. */
  minMs?: number;
}

/** Time `fn` (sync or async) per the options. */
export async function timeIt(fn: () => unknown, opts: TimingOptions = {}): Promise<Timing> {
  const warmup = opts.warmup ?? 1;
  const minRuns = Math.max(1, opts.minRuns ?? 3);
  const maxRuns = Math.max(minRuns, opts.maxRuns ?? 1000);
  const minMs = opts.minMs ?? 0;
  for (let i = 0; i < warmup; i++) await fn();
  const walls: number[] = [];
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  while (walls.length < minRuns || (walls.length < maxRuns && performance.now() - start < minMs)) {
    const t0 = performance.now();
    await fn();
    walls.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  const sorted = [...walls].sort((a, b) => a - b);
  const total = walls.reduce((a, b) => a + b, 0);
  return {
    runs: walls.length,
    wallMs: total / walls.length,
    medianMs: sorted[Math.floor(sorted.length / 2)],
    cpuMs: (cpu.user + cpu.system) / 1000 / walls.length,
  };
}

/** The machine's 1-minute load average and core count, recorded next to every measurement. */
export function machineLoad(): { loadAverage1m: number; cores: number } {
  return { loadAverage1m: Math.round(os.loadavg()[0] * 100) / 100, cores: os.availableParallelism() };
}

/** Round for JSON output. */
export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

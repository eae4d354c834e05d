/**
 * Timing for benchmarks: wall time (what a user waits) and this process's CPU time (user +
 * system), whose ratio shows how much other processes took the cores during the measurement.
 * wasm kernels run synchronously, so no device sync is needed around a timed call.
 */
import os from 'node:os';
import { readFileSync } from 'node:fs';

export interface Timing {
  /** Timed runs (after the warm-up). */
  runs: number;
  /** Mean wall milliseconds per run. */
  wallMs: number;
  /** Median wall milliseconds per run. */
  medianMs: number;
  /** Mean CPU milliseconds (user + system) of this process per run. */
  cpuMs: number;
  /**
   * Share of the machine's CPU time the hypervisor ran other machines on these cores during the
   * runs (steal, /proc/stat), in percent; absent where the kernel does not report it.
   */
  stealPercent?: number;
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
  const ticks0 = cpuTicks();
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  while (walls.length < minRuns || (walls.length < maxRuns && performance.now() - start < minMs)) {
    const t0 = performance.now();
    await fn();
    walls.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  const steal = stealPercent(ticks0, cpuTicks());
  const sorted = [...walls].sort((a, b) => a - b);
  const total = walls.reduce((a, b) => a + b, 0);
  return {
    runs: walls.length,
    wallMs: total / walls.length,
    medianMs: sorted[Math.floor(sorted.length / 2)],
    cpuMs: (cpu.user + cpu.system) / 1000 / walls.length,
    ...(steal !== undefined ? { stealPercent: steal } : {}),
  };
}

/** All cores' CPU time so far in clock ticks: the total and the part stolen by the hypervisor (Linux /proc/stat). */
export interface CpuTicks {
  total: number;
  steal: number;
}

/** The `cpu` line of /proc/stat, or undefined where there is none (not Linux) or it has no steal column. */
export function cpuTicks(): CpuTicks | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal [guest guest_nice, already inside user/nice]
    if (!line.startsWith('cpu ') || f.length < 8 || f.some((x) => !Number.isFinite(x))) return undefined;
    return { total: f.slice(0, 8).reduce((a, b) => a + b, 0), steal: f[7] };
  } catch {
    return undefined;
  }
}

/** Percent of the CPU time between two readings that was stolen (rounded to 0.1); undefined without both. */
export function stealPercent(a: CpuTicks | undefined, b: CpuTicks | undefined): number | undefined {
  if (!a || !b || b.total <= a.total) return a && b ? 0 : undefined;
  return Math.round((1000 * (b.steal - a.steal)) / (b.total - a.total)) / 10;
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

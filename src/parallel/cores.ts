/**
 * How many cores are free right now, for default thread counts on shared machines: two threads
 * on a machine where another process holds one of two cores are slower than one thread (each
 * step waits for the descheduled shard), so a default must count the cores actually free, not the
 * cores there are. On Linux the kernel's CPU counters (/proc/stat) are read twice `ms` apart: the
 * idle share of that interval times the cores. Elsewhere the 1-minute load average stands in
 * (cores minus load), which lags by about a minute.
 */
import fs from 'node:fs';
import os from 'node:os';

export interface FreeCores {
  /** Cores this process may use (os.availableParallelism()). */
  cores: number;
  /** Cores idle during the sample (fractional), at most `cores`. */
  free: number;
  /** 1-minute load average at the time. */
  loadAverage1m: number;
  /** `proc-stat`: measured over the sample; `loadavg`: cores minus the load average. */
  how: 'proc-stat' | 'loadavg';
  /** Length of the sample (proc-stat). */
  sampleMs: number;
}

/** Idle and total jiffies of all CPUs together, and the number of CPUs, from /proc/stat. */
function cpuTimes(): { idle: number; total: number; cpus: number } | undefined {
  let text: string;
  try {
    text = fs.readFileSync('/proc/stat', 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const all = lines[0]?.split(/\s+/);
  if (!all || all[0] !== 'cpu') return undefined;
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  const f = all.slice(1, 9).map(Number);
  if (f.length < 8 || f.some((x) => !Number.isFinite(x))) return undefined;
  const cpus = lines.filter((l) => /^cpu\d+\s/.test(l)).length;
  return { idle: f[3] + f[4], total: f.reduce((a, b) => a + b, 0), cpus };
}

/** Sample the free cores over `ms` milliseconds (default 500). */
export async function sampleFreeCores(ms = 500): Promise<FreeCores> {
  const cores = os.availableParallelism();
  const loadAverage1m = Math.round(os.loadavg()[0] * 100) / 100;
  const a = cpuTimes();
  if (a) await new Promise((r) => setTimeout(r, ms));
  const b = cpuTimes();
  if (a && b && b.total > a.total && b.cpus > 0) {
    const idleShare = (b.idle - a.idle) / (b.total - a.total);
    const free = Math.min(cores, Math.max(0, idleShare * b.cpus));
    return { cores, free: Math.round(free * 100) / 100, loadAverage1m, how: 'proc-stat', sampleMs: ms };
  }
  const free = Math.max(0, Math.min(cores, cores - loadAverage1m));
  return { cores, free: Math.round(free * 100) / 100, loadAverage1m, how: 'loadavg', sampleMs: 0 };
}

/**
 * Threads per run for `processes` concurrent runs when `free` cores are free: the free cores
 * (rounded to the nearest whole core) shared out, never more than the cores per run, never
 * fewer than one.
 */
export function threadsForFree(free: number, processes: number, cores: number): number {
  const per = Math.max(1, processes);
  return Math.max(1, Math.min(Math.floor(cores / per), Math.floor(Math.floor(free + 0.5) / per)));
}

/** One line for logs: what was measured and what it gives. */
export function describeFreeCores(s: FreeCores, threads: number): string {
  const how = s.how === 'proc-stat' ? `idle over ${s.sampleMs} ms` : 'cores minus the 1-minute load';
  return `${threads} thread${threads === 1 ? '' : 's'}: ${s.free} of ${s.cores} cores free (${how}; load average ${s.loadAverage1m})`;
}

/**
 * The machine's peak single-precision FLOP rate, to say what share of it a benchmark reached:
 * an AVX2 + FMA core retires two 8-wide FMAs per cycle, 32 FLOP per cycle, times the clock. The
 * clock is read from /proc/cpuinfo (`cpu MHz`, the highest over the cores: on a VM the nominal
 * clock the hypervisor reports, so boost clocks are not seen and the share is an upper bound).
 */
import fs from 'node:fs';

/** FLOP per cycle and core: 2 FMA units x 8 float32 lanes x 2 (multiply and add). */
export const AVX2_FMA_FLOP_PER_CYCLE = 32;

export interface CpuPeak {
  /** GHz, or undefined where no clock could be read. */
  ghz?: number;
  /** Where the clock comes from. */
  source: string;
  /** Peak GFLOP/s of one core. */
  gflopsPerCore?: number;
}

/** The clock and the per-core peak, from /proc/cpuinfo. */
export function cpuPeak(cpuinfo = '/proc/cpuinfo'): CpuPeak {
  let text: string;
  try {
    text = fs.readFileSync(cpuinfo, 'utf8');
  } catch {
    return { source: `${cpuinfo} unreadable: no clock, no peak` };
  }
  const mhz = [...text.matchAll(/^cpu MHz\s*:\s*([\d.]+)/gm)].map((m) => Number(m[1])).filter((x) => x > 0);
  if (mhz.length === 0) return { source: `no 'cpu MHz' in ${cpuinfo}: no clock, no peak` };
  const ghz = Math.max(...mhz) / 1000;
  return {
    ghz,
    source: `${cpuinfo} 'cpu MHz' (the highest of ${mhz.length} cores; nominal, boost not seen)`,
    gflopsPerCore: AVX2_FMA_FLOP_PER_CYCLE * ghz,
  };
}

/** Human-readable lines for `fprl bench` results (the JSON has the same numbers). */
import type { PeerOutcome, PeerResult } from './peer.js';
import type { ViTBenchResult } from './vit.js';
import type { CpuPeak } from './peak.js';
import type { FreeCores } from '../parallel/cores.js';

/** The thread count `fprl run` would default to at the time of the benchmark, and why. */
export interface ThreadDefault extends FreeCores {
  threads: number;
  /** Busy processes `--compete` kept running. */
  competitors: number;
  /** One line: what was measured and what it gives. */
  line: string;
}

/** Extra context for the text: the default thread choice and the machine's peak. */
export interface BenchContext {
  choice?: ThreadDefault;
  peak?: CpuPeak;
}

const n = (x: number, d = 2) => x.toFixed(d);

/** Steal at or above this share (percent) marks a run as disturbed. */
export const STEAL_WARN_PERCENT = 2;

/** '; steal X%' for a measured steal share, '' without one. */
const steal = (p: number | undefined): string => (p === undefined ? '' : `; steal ${n(p, 1)}%`);

/**
 * A few lines: ours, then the reference (one run, or one per thread count) with the ratios to each
 * and to its best, the share of peak FLOP/s, and the default thread choice.
 */
export function formatViTBench(
  r: ViTBenchResult,
  peer?: PeerOutcome | PeerOutcome[],
  ctx: BenchContext = {},
): string {
  const ph = r.phases;
  const lines = [
    `${r.preset} batch ${r.batch} on ${r.backend} (${r.threads} thread${r.threads === 1 ? '' : 's'}), ` +
      `${r.params.toLocaleString('en')} parameters, ${r.steps} timed steps`,
    `model  ${r.kind}, ${n(r.forwardGflopsPerImage, 3)} GFLOPs per image forward; training at ${n(r.trainGflopsPerSecond, 1)} GFLOP/s (3x forward per image)`,
    ...(r.matMul ? [`matMul ${r.matMul}`] : []),
    `train  ${n(r.trainImagesPerSecond)} img/s  (${n(r.trainMsPerStep, 0)} ms/step: forward+loss ${n(ph.forwardMs, 0)}, ` +
      `backward ${n(ph.backwardMs, 0)}, adam ${n(ph.optimizerMs, 0)})`,
    `infer  ${n(r.inferImagesPerSecond)} img/s  (${n(r.inferMsPerBatch, 0)} ms per batch of ${r.batch})`,
    `tensors leaked per step: ${r.tensorsLeakedPerStep}`,
    `cpu ${n(r.trainCpuMsPerStep, 0)} ms per step; load average ${r.loadAverage1m} on ${r.cores} cores${steal(r.trainStealPercent)}`,
  ];
  const q = r.parallel;
  if (q) {
    lines.push(
      `${q.threads} threads (data-parallel, ${q.threads - 1} worker thread${q.threads > 2 ? 's' : ''} + main):`,
      `train  ${n(q.trainImagesPerSecond)} img/s  (${n(q.trainMsPerStep, 0)} ms/step: gradients ${n(q.phases.gradientsMs, 0)}, ` +
        `adam ${n(q.phases.optimizerMs, 0)}); ${n(q.trainSpeedup)}x one thread`,
      `infer  ${n(q.inferImagesPerSecond)} img/s  (${n(q.inferMsPerBatch, 0)} ms per batch); ${n(q.inferSpeedup)}x one thread`,
      `cpu ${n(q.trainCpuMsPerStep, 0)} ms per step (all threads: ${n(q.trainCpuMsPerStep / q.trainMsPerStep, 1)} cores busy on average); ` +
        `load average ${q.loadAverage1m} on ${r.cores} cores${steal(q.trainStealPercent)}`,
    );
  }
  const peers = peer === undefined ? [] : Array.isArray(peer) ? peer : [peer];
  const ours = q ?? r;
  const label = q ? `ours (${q.threads} threads)` : 'ours';
  const gflops = (ips: number) => 3 * r.forwardGflopsPerImage * ips;
  const share = (ips: number, cores: number) =>
    ctx.peak?.gflopsPerCore
      ? ` = ${n((100 * gflops(ips)) / (ctx.peak.gflopsPerCore * cores), 1)}% of ${cores}-core peak`
      : '';
  const ok: PeerResult[] = [];
  for (const p of peers) {
    if (!p.ok) {
      lines.push(`peer   unavailable: ${p.reason}`);
      continue;
    }
    const x = p.result;
    ok.push(x);
    lines.push(
      `peer   ${x.peer} (${x.threads} thread${x.threads === 1 ? '' : 's'}, ${x.params.toLocaleString('en')} parameters` +
        `${x.params === r.params ? ', as ours' : `: NOT ours (${r.params.toLocaleString('en')}), a different architecture`}): train ${n(x.trainImagesPerSecond)} img/s, infer ${n(x.inferImagesPerSecond)} img/s${steal(x.stealPercent)}`,
      `ratio  ${label}/peer (${x.threads} thread${x.threads === 1 ? '' : 's'}): train ${n(ours.trainImagesPerSecond / x.trainImagesPerSecond)}x, ` +
        `infer ${n(ours.inferImagesPerSecond / x.inferImagesPerSecond)}x`,
    );
  }
  const stolen = [r.trainStealPercent, q?.trainStealPercent, ...ok.map((x) => x.stealPercent)].filter(
    (x): x is number => x !== undefined,
  );
  if (stolen.length && Math.max(...stolen) >= STEAL_WARN_PERCENT)
    lines.push(
      `note   the hypervisor ran other machines on these cores for up to ${n(Math.max(...stolen), 1)}% of the time ` +
        `(steal): the timings above, and ratios between them, are disturbed; repeat the run on a quieter machine`,
    );
  if (ok.length > 1) {
    const bt = ok.reduce((a, b) => (b.trainImagesPerSecond > a.trainImagesPerSecond ? b : a));
    const bi = ok.reduce((a, b) => (b.inferImagesPerSecond > a.inferImagesPerSecond ? b : a));
    lines.push(
      `ratio  ${label}/peer's best: train ${n(ours.trainImagesPerSecond / bt.trainImagesPerSecond)}x (its ${bt.threads}-thread run), ` +
        `infer ${n(ours.inferImagesPerSecond / bi.inferImagesPerSecond)}x (its ${bi.threads}-thread run)`,
    );
  }
  if (ctx.peak) {
    const pk = ctx.peak;
    if (pk.gflopsPerCore === undefined) lines.push(`peak   unknown (${pk.source})`);
    else {
      lines.push(
        `peak   ${n(pk.gflopsPerCore, 1)} GFLOP/s per core = 32 FLOP/cycle (AVX2, 2 FMA units) x ${n(pk.ghz ?? 0, 2)} GHz from ${pk.source}`,
        `share  training FLOP/s (3x forward): ours 1 thread ${n(gflops(r.trainImagesPerSecond), 1)} GFLOP/s${share(r.trainImagesPerSecond, 1)}` +
          (q
            ? `; ${q.threads} threads ${n(gflops(q.trainImagesPerSecond), 1)}${share(q.trainImagesPerSecond, q.threads)}`
            : '') +
          ok
            .map(
              (x) =>
                `; peer ${x.threads} thread${x.threads === 1 ? '' : 's'} ${n(gflops(x.trainImagesPerSecond), 1)}${share(x.trainImagesPerSecond, x.threads)}`,
            )
            .join(''),
      );
    }
  }
  if (ctx.choice) {
    const c = ctx.choice;
    const compete = c.competitors
      ? ` with ${c.competitors} busy process${c.competitors === 1 ? '' : 'es'} (--compete)`
      : '';
    let verdict = '';
    if (q && c.threads === 1)
      verdict =
        q.trainImagesPerSecond > r.trainImagesPerSecond
          ? ' (here the threads were faster after all)'
          : ' (here one thread was the faster: right)';
    if (q && c.threads === q.threads)
      verdict =
        q.trainImagesPerSecond >= r.trainImagesPerSecond
          ? ' (the faster here: right)'
          : ' (here one thread was faster)';
    lines.push(`default fprl run threads${compete}: starts with ${c.line}${verdict}`);
    const ad = q?.adaptive;
    if (ad) {
      const best = Math.max(r.trainImagesPerSecond, q.trainImagesPerSecond);
      lines.push(
        `default pool, adaptive (${q.threads} shards, starting with ${ad.start} computing, probing every 6 steps): ` +
          `train ${n(ad.trainImagesPerSecond)} img/s over ${ad.steps} steps = ${n(ad.trainImagesPerSecond / r.trainImagesPerSecond)}x one thread, ` +
          `${n(ad.trainImagesPerSecond / best)}x the faster fixed count; threads per step ${ad.threadsPerStep.join(' ')}`,
      );
    }
  }
  return lines.join('\n');
}

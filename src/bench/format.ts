/** Human-readable lines for `fprl bench` results (the JSON has the same numbers). */
import type { PeerOutcome } from './peer.js';
import type { ViTBenchResult } from './vit.js';

const n = (x: number, d = 2) => x.toFixed(d);

/** A few lines: ours, then the reference and the ratio when it ran. */
export function formatViTBench(r: ViTBenchResult, peer?: PeerOutcome): string {
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
    `cpu ${n(r.trainCpuMsPerStep, 0)} ms per step; load average ${r.loadAverage1m} on ${r.cores} cores`,
  ];
  const q = r.parallel;
  if (q) {
    lines.push(
      `${q.threads} threads (data-parallel, ${q.threads - 1} worker thread${q.threads > 2 ? 's' : ''} + main):`,
      `train  ${n(q.trainImagesPerSecond)} img/s  (${n(q.trainMsPerStep, 0)} ms/step: gradients ${n(q.phases.gradientsMs, 0)}, ` +
        `adam ${n(q.phases.optimizerMs, 0)}); ${n(q.trainSpeedup)}x one thread`,
      `infer  ${n(q.inferImagesPerSecond)} img/s  (${n(q.inferMsPerBatch, 0)} ms per batch); ${n(q.inferSpeedup)}x one thread`,
      `cpu ${n(q.trainCpuMsPerStep, 0)} ms per step (all threads: ${n(q.trainCpuMsPerStep / q.trainMsPerStep, 1)} cores busy on average); ` +
        `load average ${q.loadAverage1m} on ${r.cores} cores`,
    );
  }
  if (peer && peer.ok) {
    const p = peer.result;
    const ours = q ?? r;
    const label = q ? `ours (${q.threads} threads)` : 'ours';
    lines.push(
      `peer   ${p.peer} (${p.threads} threads, ${p.params.toLocaleString('en')} parameters` +
        `${p.params === r.params ? ', as ours' : `: NOT ours (${r.params.toLocaleString('en')}), a different architecture`}): train ${n(p.trainImagesPerSecond)} img/s, infer ${n(p.inferImagesPerSecond)} img/s`,
      `ratio  ${label}/peer: train ${n(ours.trainImagesPerSecond / p.trainImagesPerSecond)}x, ` +
        `infer ${n(ours.inferImagesPerSecond / p.inferImagesPerSecond)}x`,
    );
  } else if (peer) {
    lines.push(`peer   unavailable: ${peer.reason}`);
  }
  return lines.join('\n');
}

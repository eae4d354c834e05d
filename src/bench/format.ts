/** Human-readable lines for `fprl bench` results (the JSON has the same numbers). */
import type { PeerOutcome } from './peer.js';
import type { ViTBenchResult } from './vit.js';

const n = (x: number, d = 2) => x.toFixed(d);

/** A few lines: ours, then the reference and the ratio when it ran. */
export function formatViTBench(r: ViTBenchResult, peer?: PeerOutcome): string {
  const p = r.phases;
  const lines = [
    `${r.preset} batch ${r.batch} on ${r.backend} (${r.threads} thread${r.threads === 1 ? '' : 's'}), ` +
      `${r.params.toLocaleString('en')} parameters, ${r.steps} timed steps`,
    `train  ${n(r.trainImagesPerSecond)} img/s  (${n(r.trainMsPerStep, 0)} ms/step: forward+loss ${n(p.forwardMs, 0)}, ` +
      `backward ${n(p.backwardMs, 0)}, adam ${n(p.optimizerMs, 0)})`,
    `infer  ${n(r.inferImagesPerSecond)} img/s  (${n(r.inferMsPerBatch, 0)} ms per batch of ${r.batch})`,
    `tensors leaked per step: ${r.tensorsLeakedPerStep}`,
    `cpu ${n(r.trainCpuMsPerStep, 0)} ms per step; load average ${r.loadAverage1m} on ${r.cores} cores`,
  ];
  if (peer && peer.ok) {
    const q = peer.result;
    lines.push(
      `peer   ${q.peer} (${q.threads} threads): train ${n(q.trainImagesPerSecond)} img/s, infer ${n(q.inferImagesPerSecond)} img/s`,
      `ratio  ours/peer: train ${n(r.trainImagesPerSecond / q.trainImagesPerSecond)}x, ` +
        `infer ${n(r.inferImagesPerSecond / q.inferImagesPerSecond)}x`,
    );
  } else if (peer) {
    lines.push(`peer   unavailable: ${peer.reason}`);
  }
  return lines.join('\n');
}

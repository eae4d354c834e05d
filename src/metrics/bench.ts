import { Rng } from '../core/rng.js';
import { ConfusionMatrix } from './confusion.js';

/**
 * Throughput of {@link ConfusionMatrix.add} in pixels per second, on random Int32 predictions
 * against Uint8 targets (the types the env and the data readers produce), with 1% ignore pixels.
 * The target is >= 100M pixels/s. Owned by the benchmark suite (src/bench), which prints it.
 */
export function benchConfusion(opts: { pixels?: number; repeats?: number; seed?: number } = {}): number {
  const pixels = opts.pixels ?? 1 << 22;
  const repeats = opts.repeats ?? 10;
  const rng = new Rng(opts.seed ?? 0, 'bench/confusion');
  const pred = new Int32Array(pixels);
  const target = new Uint8Array(pixels);
  for (let i = 0; i < pixels; i++) {
    pred[i] = rng.int(0, 11);
    target[i] = rng.bernoulli(0.01) ? 255 : rng.int(0, 11);
  }
  const cm = new ConfusionMatrix(11, 255);
  cm.add(pred.subarray(0, 4096), target.subarray(0, 4096)); // warm up the JIT
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < repeats; r++) cm.add(pred, target);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return (pixels * repeats) / seconds;
}

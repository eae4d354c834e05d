/**
 * Data benchmarks, wired into `fprl bench` by the bench owner. They return numbers and
 * print nothing.
 */
import { SyntheticFaces } from './synthetic.js';
import { normalizeImage } from './normalize.js';

/**
 * Synthetic faces rendered per second at `size` px on this thread, including the
 * normalisation to model input (what a training step consumes). Renders `n` faces after a
 * short warm-up so the JIT has compiled the rasteriser.
 */
export function benchSynthetic(size: number, n: number): number {
  const ds = new SyntheticFaces({ size, count: n + 8, seed: 0 });
  const out = { rgb: new Uint8Array(size * size * 3), label: new Uint8Array(size * size) };
  const img = new Float32Array(size * size * 3);
  for (let i = 0; i < Math.min(8, n); i++) ds.render(n + i, out);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    ds.render(i, out);
    normalizeImage(out.rgb, img);
  }
  const seconds = (performance.now() - t0) / 1000;
  return n / Math.max(seconds, 1e-9);
}

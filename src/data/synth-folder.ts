/**
 * Write synthetic faces in the LaPa folder layout (`fprl data synth`), so the folder reader
 * can be exercised on real files and users can look at the data. PNG images are
 * byte-identical to the in-memory faces; JPEG is smaller but lossy.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FprlError } from '../core/errors.js';
import { guardOutput, markOutput } from '../core/output-guard.js';
import { encodeImage, encodeLabelPng } from './image-io.js';
import { SyntheticFaces } from './synthetic.js';

export interface SynthFolderOptions {
  out: string;
  /** Faces per split; a split with 0 is not written. */
  counts: { train: number; val: number; test: number };
  size: number;
  seed: number;
  format?: 'png' | 'jpg';
  /** Write into a non-empty `out` that fprl data synth did not make. */
  force?: boolean;
  /** Called after each written face (progress display). */
  onProgress?: (done: number, total: number) => void;
}

export interface SynthFolderResult {
  out: string;
  written: Record<string, number>;
}

const SYNTH_COMMAND = 'fprl data synth';

export async function writeSyntheticFolder(opts: SynthFolderOptions): Promise<SynthFolderResult> {
  const format = opts.format ?? 'png';
  if (format !== 'png' && format !== 'jpg') {
    throw new FprlError(`unknown format '${format as string}'`, { where: 'format', hint: 'use png or jpg' });
  }
  // A synthetic set written over an existing dataset mixes the two silently: refused first.
  const state = await guardOutput(opts.out, {
    command: SYNTH_COMMAND,
    inputs: [],
    force: opts.force,
    recognise: [['synthetic.json']],
  });
  // A folder taken with --force stays unmarked: the user's files there stay protected next time.
  if (state !== 'forced') await markOutput(opts.out, SYNTH_COMMAND);
  const total = opts.counts.train + opts.counts.val + opts.counts.test;
  const written: Record<string, number> = {};
  let done = 0;
  for (const split of ['train', 'val', 'test'] as const) {
    const count = opts.counts[split];
    if (!(Number.isInteger(count) && count >= 0)) {
      throw new FprlError(`--${split} must be a non-negative integer, got ${count}`, { where: `--${split}` });
    }
    if (count === 0) continue;
    const ds = new SyntheticFaces({ size: opts.size, count, seed: opts.seed, split });
    const imgDir = path.join(opts.out, split, 'images');
    const labDir = path.join(opts.out, split, 'labels');
    await fs.mkdir(imgDir, { recursive: true });
    await fs.mkdir(labDir, { recursive: true });
    // Encode a few faces at a time: sharp compresses on its own threads while JS renders.
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const { rgb, label } = ds.render(i);
      inflight.push(
        (async () => {
          const [img, lab] = await Promise.all([
            encodeImage(rgb, opts.size, opts.size, format),
            encodeLabelPng(label, opts.size, opts.size),
          ]);
          await fs.writeFile(path.join(imgDir, `${i}.${format}`), img);
          await fs.writeFile(path.join(labDir, `${i}.png`), lab);
          opts.onProgress?.(++done, total);
        })(),
      );
      if (inflight.length >= 16) await Promise.all(inflight.splice(0));
    }
    await Promise.all(inflight);
    written[split] = count;
  }
  await fs.writeFile(
    path.join(opts.out, 'synthetic.json'),
    `${JSON.stringify({ generator: 'face-parsing-rl SyntheticFaces', seed: opts.seed, size: opts.size, format, counts: opts.counts }, null, 2)}\n`,
  );
  return { out: opts.out, written };
}

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { encodeImage, encodeLabelPng } from '../../src/data/image-io.js';

export async function tempDir(prefix = 'fprl-data-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** A deterministic RGB pattern [H,W,3]. */
export function pattern(h: number, w: number, k = 0): Uint8Array {
  const out = new Uint8Array(h * w * 3);
  for (let i = 0; i < out.length; i++) out[i] = (i * 7 + k * 31) % 256;
  return out;
}

/** A label map [H,W] using classes 0..10 in horizontal bands. */
export function bands(h: number, w: number): Uint8Array {
  const out = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = Math.floor((y * 11) / h);
  return out;
}

export async function writePng(file: string, rgb: Uint8Array, h: number, w: number): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, await encodeImage(rgb, h, w, 'png'));
}

export async function writeJpg(file: string, rgb: Uint8Array, h: number, w: number): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, await encodeImage(rgb, h, w, 'jpg'));
}

export async function writeLabel(file: string, label: Uint8Array, h: number, w: number): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, await encodeLabelPng(label, h, w));
}

/** An RGB PNG used where a greyscale label is expected. */
export async function writeRgbPng(file: string, h: number, w: number): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await sharp(pattern(h, w), { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toFile(file);
}

/** A LaPa split with `n` good samples of h x w (ids 0..n-1). */
export async function writeLapaSplit(root: string, split: string, n: number, h = 16, w = 16): Promise<void> {
  for (let i = 0; i < n; i++) {
    await writePng(path.join(root, split, 'images', `${i}.png`), pattern(h, w, i), h, w);
    await writeLabel(path.join(root, split, 'labels', `${i}.png`), bands(h, w), h, w);
  }
}

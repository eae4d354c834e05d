/**
 * Small LaPa-layout folders with one fault each, the corpus of the bad-data tests. A clean
 * folder is written once (16 px JPEG faces and their label PNGs); each case copies it and
 * damages one file the way real data gets damaged.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { encodeLabelPng } from '../../src/data/image-io.js';
import { writeSyntheticFolder } from '../../src/data/index.js';

export const SIZE = 16;

/** Write a clean folder: train 4, val 2, test 2 faces. */
export async function writeCleanLapa(root: string): Promise<void> {
  await writeSyntheticFolder({
    out: root,
    counts: { train: 4, val: 2, test: 2 },
    size: SIZE,
    seed: 1,
    format: 'jpg',
  });
}

const image = (root: string, id: number) => path.join(root, 'train', 'images', `${id}.jpg`);
const label = (root: string, id: number) => path.join(root, 'train', 'labels', `${id}.png`);

export interface Fault {
  /** Damage the copy at `root`; returns the file the error must name. */
  apply(root: string): Promise<string>;
  /** What the message must say. */
  message: string | RegExp;
  /** What the hint must say. */
  hint?: string | RegExp;
}

/** One damaged file per case (the train split, so it is found first). */
export const FAULTS: Record<string, Fault> = {
  'an empty split (no images, no labels)': {
    async apply(root) {
      for (const sub of ['images', 'labels']) {
        const dir = path.join(root, 'train', sub);
        for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f));
      }
      return root;
    },
    message: /no usable samples in .*\(train\)/,
    hint: 'images and labels in the expected layout',
  },
  'a truncated JPEG': {
    async apply(root) {
      const f = image(root, 1);
      const bytes = fs.readFileSync(f);
      fs.writeFileSync(f, bytes.subarray(0, Math.floor(bytes.length / 2)));
      return f;
    },
    message: /cannot decode image: .*\(truncated or corrupt file\)/,
    hint: 'copy the file again, or delete it',
  },
  'a label PNG holding the value 12': {
    async apply(root) {
      const f = label(root, 2);
      const ids = new Uint8Array(SIZE * SIZE).fill(1);
      ids[3 * SIZE + 5] = 12;
      fs.writeFileSync(f, await encodeLabelPng(ids, SIZE, SIZE));
      return f;
    },
    message: 'label value 12 at (x=5, y=3) is not a LaPa class (0..10) or 255 (ignore)',
    hint: 'LaPa labels hold class ids 0..10',
  },
  'an RGB label': {
    async apply(root) {
      const f = label(root, 0);
      await sharp(Buffer.alloc(SIZE * SIZE * 3, 40), { raw: { width: SIZE, height: SIZE, channels: 3 } })
        .png()
        .toFile(f);
      return f;
    },
    message: 'label has 3 channels (RGB colour), expected 1',
    hint: 'single-channel 8-bit greyscale PNGs',
  },
  'a label of another size than its image': {
    async apply(root) {
      const f = label(root, 3);
      fs.writeFileSync(f, await encodeLabelPng(new Uint8Array(8 * 8), 8, 8));
      return f;
    },
    message: `size mismatch: label is 8x8 but its image`,
    hint: 'exactly the size of its image',
  },
  'an image without a label': {
    async apply(root) {
      fs.rmSync(label(root, 1));
      return image(root, 1);
    },
    message: 'image has no label (expected',
    hint: 'add the label map or remove the image',
  },
  'a zero-byte image file': {
    async apply(root) {
      fs.writeFileSync(image(root, 2), '');
      return image(root, 2);
    },
    message: 'empty file (0 bytes)',
    hint: 'copy the file again or delete it',
  },
  'a non-image file with an image name': {
    async apply(root) {
      fs.writeFileSync(image(root, 0), 'Annotated with LabelStudio, exported 2024-03-01\n');
      return image(root, 0);
    },
    message: 'not an image file (unsupported or unrecognised format)',
    hint: 'use .jpg or .png images',
  },
};

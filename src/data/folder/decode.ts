/**
 * Decode and check one folder sample: image, label (LaPa ids, a merged CelebAMask-HQ mask,
 * or CelebAMask-HQ per-part masks merged in the official order), sizes, then resize.
 * Every failure is an FprlError naming the file.
 */
import { IGNORE_INDEX, NUM_CLASSES } from '../../core/classes.js';
import { FprlError } from '../../core/errors.js';
import {
  type LabelImage,
  type RawImage,
  decodeChannel0,
  decodeLabelPng,
  decodeRgb,
  readFileChecked,
  resizeLabelNearest,
  resizeRgb,
} from '../image-io.js';
import { CELEBA_PARTS_G_MASK, CELEBA_TO_LAPA, isCelebPart, mergedToLapaTable } from './celeb-classes.js';
import type { FolderItem, LabelRef } from './scan.js';

/** A decoded sample: RGB bytes `[H,W,3]` and LaPa ids `[H,W]`. */
export interface DecodedSample {
  rgb: Uint8Array;
  label: Uint8Array;
  height: number;
  width: number;
}

/** Check LaPa ids (0..10 or 255) in place; the error names the first bad value and pixel. */
function checkLapaValues(label: LabelImage, file: string): void {
  const d = label.data;
  let bad = 0;
  let first = -1;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (v >= NUM_CLASSES && v !== IGNORE_INDEX) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (bad) {
    const x = first % label.width;
    const y = Math.floor(first / label.width);
    throw new FprlError(
      `label value ${d[first]} at (x=${x}, y=${y}) is not a LaPa class (0..${NUM_CLASSES - 1}) or ${IGNORE_INDEX} (ignore); ${bad} pixel${bad > 1 ? 's' : ''} have invalid values`,
      {
        where: file,
        hint: 'LaPa labels hold class ids 0..10 (255 = ignore); for CelebAMask-HQ 19-class masks use openCelebAMask (CLI: --format celebamask)',
      },
    );
  }
}

const lutCache = new Map<string, Int16Array>();

function mapMerged(label: LabelImage, file: string, order: 'g_mask' | 'face-parsing-pytorch'): LabelImage {
  let lut = lutCache.get(order);
  if (!lut) lutCache.set(order, (lut = mergedToLapaTable(order)));
  const out = new Uint8Array(label.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = lut[label.data[i]];
    if (v < 0) {
      throw new FprlError(
        `mask value ${label.data[i]} at (x=${i % label.width}, y=${Math.floor(i / label.width)}) is not a CelebAMask-HQ class (0..18)`,
        { where: file, hint: 'merged CelebAMask-HQ masks hold values 0..18 (background, then the 18 parts)' },
      );
    }
    out[i] = v;
  }
  return { data: out, height: label.height, width: label.width };
}

/** Decode one per-part mask: any channel count; a pixel belongs to the part when channel 0 is non-zero. */
async function decodePartMask(file: string): Promise<LabelImage> {
  const buf = await readFileChecked(file);
  try {
    return await decodeChannel0(buf);
  } catch (e) {
    throw new FprlError(`cannot decode mask: ${(e as Error).message.split('\n')[0]}`, {
      where: file,
      hint: 'copy the file again, or delete it',
      cause: e,
    });
  }
}

/** Merge per-part masks in the official g_mask.py order (later parts overwrite) straight to LaPa ids. */
async function mergeParts(
  parts: { part: string; path: string }[],
): Promise<{ label: LabelImage; file: string }> {
  const byPart = new Map<string, string>();
  for (const p of parts) {
    if (!isCelebPart(p.part)) {
      throw new FprlError(`unknown CelebAMask-HQ part '${p.part}'`, {
        where: p.path,
        hint: `parts are ${CELEBA_PARTS_G_MASK.join(', ')}`,
      });
    }
    byPart.set(p.part, p.path);
  }
  let out: Uint8Array | undefined;
  let height = 0;
  let width = 0;
  let firstFile = parts[0].path;
  for (const part of CELEBA_PARTS_G_MASK) {
    const file = byPart.get(part);
    if (!file) continue;
    const m = await decodePartMask(file);
    if (!out) {
      out = new Uint8Array(m.height * m.width);
      height = m.height;
      width = m.width;
      firstFile = file;
    } else if (m.height !== height || m.width !== width) {
      throw new FprlError(`part mask is ${m.width}x${m.height} but ${firstFile} is ${width}x${height}`, {
        where: file,
        hint: 'all part masks of an image must have the same size',
      });
    }
    const v = CELEBA_TO_LAPA[part];
    const d = m.data;
    for (let i = 0; i < d.length; i++) if (d[i] !== 0) out[i] = v;
  }
  return { label: { data: out!, height, width }, file: firstFile };
}

/** The LaPa label map of a sample, at its stored size, and the file to name in messages. */
export async function decodeLabel(ref: LabelRef): Promise<{ label: LabelImage; file: string }> {
  switch (ref.kind) {
    case 'lapa': {
      const label = await decodeLabelPng(await readFileChecked(ref.path), ref.path);
      checkLapaValues(label, ref.path);
      return { label, file: ref.path };
    }
    case 'celeb19': {
      const raw = await decodeLabelPng(await readFileChecked(ref.path), ref.path);
      return { label: mapMerged(raw, ref.path, ref.order), file: ref.path };
    }
    case 'celeb-parts':
      return mergeParts(ref.parts);
  }
}

/**
 * Decode, check and resize one sample. LaPa labels must match their image's size exactly;
 * CelebAMask-HQ masks (512 px for 1024 px images) must match its aspect ratio. With no
 * `size`, LaPa samples keep their size and CelebAMask-HQ images are resized to their mask.
 */
export async function decodeItem(
  item: FolderItem,
  size?: { height: number; width: number },
): Promise<DecodedSample> {
  const image: RawImage = await decodeRgb(await readFileChecked(item.image), item.image);
  const { label, file } = await decodeLabel(item.label);
  if (item.label.kind === 'lapa') {
    if (image.height !== label.height || image.width !== label.width) {
      throw new FprlError(
        `size mismatch: label is ${label.width}x${label.height} but its image ${item.image} is ${image.width}x${image.height}`,
        { where: file, hint: 'a label map must have exactly the size of its image' },
      );
    }
  } else if (
    Math.abs(image.width * label.height - label.width * image.height) >
    0.01 * image.width * label.height
  ) {
    throw new FprlError(
      `aspect mismatch: mask is ${label.width}x${label.height} but its image ${item.image} is ${image.width}x${image.height}`,
      { where: file, hint: 'a mask must have the aspect ratio of its image' },
    );
  }
  const target = size ?? { height: label.height, width: label.width };
  const rgb = await resizeRgb(image, target.height, target.width);
  const lab = resizeLabelNearest(label, target.height, target.width);
  return { rgb: rgb.data, label: lab.data, height: target.height, width: target.width };
}

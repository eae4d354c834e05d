/**
 * Image and label-map file IO on top of sharp. Every failure is an {@link FprlError} whose
 * `where` is the file, so a bad file in a 20,000-image folder is found in one look.
 *
 * Conventions: images decode to RGB bytes `[H,W,3]` (alpha dropped, greyscale expanded,
 * EXIF orientation NOT applied, so pixels stay aligned with their label maps); label maps are
 * single-channel 8-bit greyscale PNGs whose pixel values are class ids `[H,W]`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { FprlError } from '../core/errors.js';

/** Decoded RGB bytes, row-major `[H,W,3]`. */
export interface RawImage {
  data: Uint8Array;
  height: number;
  width: number;
}

/** Decoded label map, row-major `[H,W]` of class ids. */
export interface LabelImage {
  data: Uint8Array;
  height: number;
  width: number;
}

/** A target size: a square side, or height and width. */
export type SizeSpec = number | { height: number; width: number };

export function sizeOf(spec: SizeSpec): { height: number; width: number } {
  return typeof spec === 'number' ? { height: spec, width: spec } : spec;
}

const LABEL_HINT =
  'labels must be single-channel 8-bit greyscale PNGs whose pixel values are class ids ' +
  '(0..10, 255 = ignore); convert colour or palette masks to class ids first';

/** Read a whole file, turning missing and empty files into clear errors. */
export async function readFileChecked(file: string): Promise<Buffer> {
  let buf: Buffer;
  try {
    buf = await fs.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FprlError(
      code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? (e as Error).message})`,
      {
        where: file,
        hint: 'check the path and the file permissions',
        cause: e,
      },
    );
  }
  if (buf.length === 0) {
    throw new FprlError('empty file (0 bytes)', {
      where: file,
      hint: 'the copy was probably interrupted: copy the file again or delete it',
    });
  }
  return buf;
}

function decodeError(file: string, e: unknown): FprlError {
  const msg = (e as Error).message ?? String(e);
  if (/unsupported image format/i.test(msg)) {
    return new FprlError('not an image file (unsupported or unrecognised format)', {
      where: file,
      hint: 'use .jpg or .png images, and remove other files from the folder',
      cause: e,
    });
  }
  return new FprlError(`cannot decode image: ${msg.split('\n')[0]} (truncated or corrupt file)`, {
    where: file,
    hint: 'copy the file again, or delete it (or pass --skip-bad / skipBad to skip bad files)',
    cause: e,
  });
}

/** Decode image bytes to RGB at native size. `file` is only used in error messages. */
export async function decodeRgb(buf: Buffer, file: string): Promise<RawImage> {
  try {
    const { data, info } = await sharp(buf, { failOn: 'truncated' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      height: info.height,
      width: info.width,
    };
  } catch (e) {
    throw decodeError(file, e);
  }
}

/** An image file's height and width from its header (no decoding; EXIF orientation not applied, as in decodeRgb). */
export async function readImageSize(file: string): Promise<{ height: number; width: number }> {
  try {
    const m = await sharp(file).metadata();
    if (!m.height || !m.width) throw new Error('no size in the header');
    return { height: m.height, width: m.width };
  } catch (e) {
    throw decodeError(file, e);
  }
}

/** Resize RGB bytes with sharp's default (Lanczos) filter; aspect ratio is not kept. */
export async function resizeRgb(img: RawImage, height: number, width: number): Promise<RawImage> {
  if (img.height === height && img.width === width) return img;
  const data = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(width, height, { fit: 'fill' })
    .raw()
    .toBuffer();
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), height, width };
}

/**
 * Nearest-neighbour resize of a label map (class ids must never be blended). Pixel centres
 * are mapped, as sharp's and PIL's NEAREST do, so a 2x downscale picks every other pixel.
 */
export function resizeLabelNearest(label: LabelImage, height: number, width: number): LabelImage {
  if (label.height === height && label.width === width) return label;
  const out = new Uint8Array(height * width);
  const sy = label.height / height;
  const sx = label.width / width;
  const cols = new Int32Array(width);
  for (let x = 0; x < width; x++) cols[x] = Math.min(label.width - 1, Math.floor((x + 0.5) * sx));
  for (let y = 0; y < height; y++) {
    const row = Math.min(label.height - 1, Math.floor((y + 0.5) * sy)) * label.width;
    const o = y * width;
    for (let x = 0; x < width; x++) out[o + x] = label.data[row + cols[x]];
  }
  return { data: out, height, width };
}

/** Read an image file as RGB bytes `[H,W,3]`, resized to `size` when given. */
export async function readImageFile(file: string, size?: SizeSpec): Promise<RawImage> {
  const img = await decodeRgb(await readFileChecked(file), file);
  if (size === undefined) return img;
  const { height, width } = sizeOf(size);
  return resizeRgb(img, height, width);
}

/**
 * Decode a single-channel 8-bit label PNG (any pixel values; callers check the range).
 * Colour (RGB), palette and 16-bit files are refused: their pixel values are not class ids.
 */
export async function decodeLabelPng(buf: Buffer, file: string): Promise<LabelImage> {
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
  try {
    meta = await sharp(buf).metadata();
  } catch (e) {
    throw decodeError(file, e);
  }
  if (meta.format !== 'png') {
    throw new FprlError(`label is a ${meta.format ?? 'non-PNG'} file, not a PNG`, {
      where: file,
      hint: LABEL_HINT,
    });
  }
  if (meta.isPalette) {
    throw new FprlError('label is a palette (indexed-colour) PNG, not greyscale', {
      where: file,
      hint: LABEL_HINT,
    });
  }
  if (meta.channels !== 1) {
    const what = meta.channels === 2 ? 'greyscale with alpha' : meta.channels === 4 ? 'RGBA' : 'RGB colour';
    throw new FprlError(`label has ${meta.channels} channels (${what}), expected 1`, {
      where: file,
      hint: LABEL_HINT,
    });
  }
  if (meta.depth !== 'uchar') {
    throw new FprlError(`label has ${meta.bitsPerSample ?? meta.depth}-bit samples, expected 8-bit`, {
      where: file,
      hint: LABEL_HINT,
    });
  }
  try {
    return await decodeChannel0(buf);
  } catch (e) {
    throw decodeError(file, e);
  }
}

/** Channel 0 of an encoded image as 8-bit values (truncated files fail); callers name the file in errors. */
export async function decodeChannel0(buf: Buffer): Promise<LabelImage> {
  const { data, info } = await sharp(buf, { failOn: 'truncated' })
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    height: info.height,
    width: info.width,
  };
}

/** Read a label PNG `[H,W]` (values as stored; see {@link decodeLabelPng}). */
export async function readLabelPng(file: string): Promise<LabelImage> {
  return decodeLabelPng(await readFileChecked(file), file);
}

/** Encode a label map `[H,W]` as a single-channel 8-bit PNG (lossless, so ids survive). */
export async function encodeLabelPng(label: Uint8Array, height: number, width: number): Promise<Buffer> {
  if (label.length !== height * width) {
    throw new RangeError(`label has ${label.length} values, expected ${height}x${width}`);
  }
  return sharp(label, { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png({ compressionLevel: 6 })
    .toBuffer();
}

/** Write a label map `[H,W]` as a single-channel 8-bit PNG. */
export async function writeLabelPng(
  file: string,
  label: Uint8Array,
  height: number,
  width: number,
): Promise<void> {
  await fs.writeFile(file, await encodeLabelPng(label, height, width));
}

/** Encode RGB bytes `[H,W,3]` as PNG (lossless) or JPEG (quality 95), chosen by `format`. */
export async function encodeImage(
  rgb: Uint8Array,
  height: number,
  width: number,
  format: 'png' | 'jpg',
): Promise<Buffer> {
  if (rgb.length !== height * width * 3) {
    throw new RangeError(`image has ${rgb.length} values, expected ${height}x${width}x3`);
  }
  const img = sharp(rgb, { raw: { width, height, channels: 3 } });
  return format === 'png'
    ? img.png({ compressionLevel: 6 }).toBuffer()
    : img.jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toBuffer();
}

/** Write RGB bytes `[H,W,3]`; the extension (.png, .jpg, .jpeg) picks the format. */
export async function writeImageFile(
  file: string,
  rgb: Uint8Array,
  height: number,
  width: number,
): Promise<void> {
  const ext = path.extname(file).toLowerCase();
  const format = ext === '.png' ? 'png' : ext === '.jpg' || ext === '.jpeg' ? 'jpg' : undefined;
  if (!format)
    throw new FprlError(`unknown image extension '${ext}'`, { where: file, hint: 'use .png or .jpg' });
  await fs.writeFile(file, await encodeImage(rgb, height, width, format));
}

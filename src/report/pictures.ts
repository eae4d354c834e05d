/**
 * Pictures of predictions: label maps in class colours, colour overlays on photos, and the
 * ground truth | prediction | error grids the report and TensorBoard show. RGB bytes are
 * row-major `[H,W,3]`; PNGs are encoded by sharp.
 */
import sharp from 'sharp';
import { CLASS_COLORS, IGNORE_INDEX } from '../core/classes.js';
import { denormalizeImage } from '../data/normalize.js';
import { FprlError } from '../core/errors.js';

/** Colour of ignore pixels (255) and of any label outside the class table. */
export const IGNORE_COLOR = [128, 128, 128] as const;
/** Colour of wrongly labelled pixels in the error map. */
export const ERROR_COLOR = [255, 32, 32] as const;
/** Brightness of correct pixels in the error map (a dimmed grey copy of the photo, for context). */
const CORRECT_DIM = 0.35;
/** Gap between panels, in pixels before upscaling. */
const GAP = 1;
const GAP_VALUE = 255;

type Labels = ArrayLike<number>;
/** A photo: normalised floats `[H,W,3]` in [-1,1] (model input), or RGB bytes `[H,W,3]`. */
export type Photo = Float32Array | Uint8Array | Uint8ClampedArray;

/** Label map `[H*W]` to class colours `[H,W,3]`; ignore (255) and unknown labels are grey. */
export function labelToRgb(label: Labels, height: number, width: number): Uint8Array {
  checkLength('labelToRgb', 'label', label.length, height * width);
  const out = new Uint8Array(height * width * 3);
  for (let p = 0; p < label.length; p++) out.set(colorOf(label[p]), p * 3);
  return out;
}

/**
 * Blend class colours over a photo: `(1 - alpha) * photo + alpha * colour`. Ignore pixels
 * keep the photo. Returns RGB bytes `[H,W,3]` (for `fprl predict`).
 */
export function overlay(image: Photo, label: Labels, alpha = 0.5): Uint8Array {
  checkLength('overlay', 'image', image.length, label.length * 3);
  if (!(alpha >= 0 && alpha <= 1))
    throw new FprlError(`alpha must be in [0, 1], got ${alpha}`, { where: 'overlay' });
  const rgb = toBytes(image);
  const out = new Uint8Array(rgb.length);
  for (let p = 0; p < label.length; p++) {
    const l = label[p];
    const c = colorOf(l);
    const a = l === IGNORE_INDEX ? 0 : alpha;
    for (let k = 0; k < 3; k++) out[p * 3 + k] = Math.round((1 - a) * rgb[p * 3 + k] + a * c[k]);
  }
  return out;
}

/**
 * Where a prediction is wrong: wrong pixels in {@link ERROR_COLOR}, ignore pixels grey,
 * correct pixels a dimmed grey copy of the photo. RGB bytes `[H,W,3]`.
 */
export function errorMap(image: Photo, truth: Labels, pred: Labels): Uint8Array {
  checkLength('errorMap', 'prediction', pred.length, truth.length);
  checkLength('errorMap', 'image', image.length, truth.length * 3);
  const rgb = toBytes(image);
  const out = new Uint8Array(rgb.length);
  for (let p = 0; p < truth.length; p++) {
    let c: readonly number[];
    if (truth[p] === IGNORE_INDEX) c = IGNORE_COLOR;
    else if (truth[p] !== pred[p]) c = ERROR_COLOR;
    else {
      const grey = CORRECT_DIM * (0.299 * rgb[p * 3] + 0.587 * rgb[p * 3 + 1] + 0.114 * rgb[p * 3 + 2]);
      c = [grey, grey, grey];
    }
    for (let k = 0; k < 3; k++) out[p * 3 + k] = Math.round(c[k]);
  }
  return out;
}

/** RGB bytes `[H,W,3]` to a PNG, optionally upscaled by an integer factor (nearest neighbour). */
export async function encodePng(rgb: Uint8Array, height: number, width: number, scale = 1): Promise<Buffer> {
  checkLength('encodePng', 'rgb', rgb.length, height * width * 3);
  let img = sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), {
    raw: { width, height, channels: 3 },
  });
  if (scale !== 1) img = img.resize(width * scale, height * scale, { kernel: 'nearest' });
  return img.png().toBuffer();
}

export interface PredictionGridInput {
  /** One photo per face, `[H,W,3]` normalised to [-1,1] (or RGB bytes). */
  images: Photo[];
  /** Ground truth per face, `[H*W]` (255 = ignore). */
  truth: Labels[];
  /** Prediction per face, `[H*W]`. */
  pred: Labels[];
  height: number;
  width: number;
  /** Integer upscale factor (nearest); default makes each panel at least ~128 px. */
  scale?: number;
}

/** Default upscale: 64-px faces become 128 px, 256-px faces stay as they are. */
export function defaultScale(height: number, width: number): number {
  return Math.max(1, Math.floor(128 / Math.max(height, width)));
}

/** Size of the PNG {@link renderPredictionGrid} returns for `faces` faces. */
export function predictionGridSize(
  faces: number,
  height: number,
  width: number,
  scale = defaultScale(height, width),
) {
  return { width: (4 * width + 3 * GAP) * scale, height: (faces * height + (faces - 1) * GAP) * scale };
}

/**
 * A PNG with one row per face: photo | ground truth | prediction | error map (white gaps
 * between panels). Colours are CLASS_COLORS; see {@link errorMap} for the last panel.
 */
export async function renderPredictionGrid(input: PredictionGridInput): Promise<Buffer> {
  const { images, truth, pred, height: h, width: w } = input;
  const n = images.length;
  if (n === 0)
    throw new FprlError('no faces to draw', {
      where: 'renderPredictionGrid',
      hint: 'pass at least one image',
    });
  if (truth.length !== n || pred.length !== n) {
    throw new FprlError(`got ${n} images, ${truth.length} ground truths and ${pred.length} predictions`, {
      where: 'renderPredictionGrid',
      hint: 'pass one ground truth and one prediction per image',
    });
  }
  const scale = input.scale ?? defaultScale(h, w);
  if (!Number.isInteger(scale) || scale < 1) {
    throw new FprlError(`scale must be a positive integer, got ${scale}`, { where: 'renderPredictionGrid' });
  }
  const gw = 4 * w + 3 * GAP;
  const gh = n * h + (n - 1) * GAP;
  const grid = new Uint8Array(gw * gh * 3).fill(GAP_VALUE);
  for (let i = 0; i < n; i++) {
    const panels = [
      toBytes(checked(images[i], h * w * 3, i)),
      labelToRgb(truth[i], h, w),
      labelToRgb(pred[i], h, w),
      errorMap(images[i], truth[i], pred[i]),
    ];
    const top = i * (h + GAP);
    panels.forEach((panel, k) => {
      const left = k * (w + GAP);
      for (let y = 0; y < h; y++)
        grid.set(panel.subarray(y * w * 3, (y + 1) * w * 3), ((top + y) * gw + left) * 3);
    });
  }
  return encodePng(grid, gh, gw, scale);
}

function colorOf(label: number): readonly number[] {
  return CLASS_COLORS[label] ?? IGNORE_COLOR;
}

function toBytes(image: Photo): Uint8Array {
  if (image instanceof Float32Array) return denormalizeImage(image);
  return image instanceof Uint8Array ? image : Uint8Array.from(image);
}

function checked(image: Photo, expected: number, i: number): Photo {
  checkLength('renderPredictionGrid', `image ${i}`, image.length, expected);
  return image;
}

function checkLength(where: string, what: string, got: number, expected: number): void {
  if (got !== expected) {
    throw new FprlError(`${what} has ${got} values, expected ${expected}`, {
      where,
      hint: 'images are [H,W,3] and label maps [H*W] of the same height and width',
    });
  }
}

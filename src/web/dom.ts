/// <reference lib="dom" />
/** Small DOM helpers of the page. */
import { CLASS_COLORS, IGNORE_INDEX } from '../core/classes.js';
import { FprlError } from '../core/errors.js';

export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

/** Show a message (an FprlError names its file); the rest of the page keeps working. */
export function showMessage(e: unknown): void {
  const li = document.createElement('li');
  li.textContent = e instanceof FprlError ? e.describe() : e instanceof Error ? e.message : String(e);
  $('messages').append(li);
}

/** RGB bytes [H,W,3] of RGBA image data. */
export function rgbOf(data: Uint8ClampedArray): Uint8Array {
  const out = new Uint8Array((data.length / 4) * 3);
  for (let p = 0, q = 0; p < data.length; p += 4, q += 3) {
    out[q] = data[p];
    out[q + 1] = data[p + 1];
    out[q + 2] = data[p + 2];
  }
  return out;
}

/** Draw RGB bytes [H,W,3] into a canvas (resized to H x W). */
export function drawRgb(canvas: HTMLCanvasElement, rgb: ArrayLike<number>, height: number, width: number): void {
  canvas.width = width;
  canvas.height = height;
  const img = new ImageData(width, height);
  for (let p = 0; p < height * width; p++) {
    img.data[p * 4] = rgb[p * 3];
    img.data[p * 4 + 1] = rgb[p * 3 + 1];
    img.data[p * 4 + 2] = rgb[p * 3 + 2];
    img.data[p * 4 + 3] = 255;
  }
  canvas.getContext('2d')!.putImageData(img, 0, 0);
}

/** Labels [H*W] in the class colours (ignored pixels black), blended over `under` (RGB) with `alpha`. */
export function labelColours(
  labels: ArrayLike<number>,
  under?: ArrayLike<number>,
  alpha = 1,
): Uint8Array {
  const out = new Uint8Array(labels.length * 3);
  for (let p = 0; p < labels.length; p++) {
    const l = labels[p];
    const c = l === IGNORE_INDEX ? [0, 0, 0] : (CLASS_COLORS[l] ?? [0, 0, 0]);
    const a = l === IGNORE_INDEX ? 0 : alpha;
    for (let k = 0; k < 3; k++) out[p * 3 + k] = Math.round((1 - a) * (under ? under[p * 3 + k] : 0) + a * c[k]);
  }
  return out;
}

/**
 * Rasterise a {@link Scene} at a given size: shapes back to front, then soft focus, lighting,
 * colour cast and sensor noise, then 8-bit quantisation (so an in-memory synthetic face is
 * byte-identical to the same face written as PNG by `fprl data synth` and read back).
 */
import { compose, pixelToImage } from './affine.js';
import { Canvas, drawShape } from './raster.js';
import type { PostParams, Scene } from './scene.js';

/** 32-bit integer hash (a murmur3 finaliser): counter-based noise needs no sequential state. */
function hash32(x: number): number {
  let h = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Separable [1,2,1]/4 blur of `[S,S,3]` floats, edges clamped. */
function blur121(rgb: Float32Array, size: number, tmp: Float32Array): void {
  const row = size * 3;
  for (let y = 0; y < size; y++) {
    const o = y * row;
    for (let x = 0; x < size; x++) {
      const l = x > 0 ? x - 1 : 0;
      const r = x < size - 1 ? x + 1 : size - 1;
      for (let c = 0; c < 3; c++) {
        tmp[o + x * 3 + c] = 0.25 * rgb[o + l * 3 + c] + 0.5 * rgb[o + x * 3 + c] + 0.25 * rgb[o + r * 3 + c];
      }
    }
  }
  for (let y = 0; y < size; y++) {
    const up = (y > 0 ? y - 1 : 0) * row;
    const dn = (y < size - 1 ? y + 1 : size - 1) * row;
    const o = y * row;
    for (let i = 0; i < row; i++) rgb[o + i] = 0.25 * tmp[up + i] + 0.5 * tmp[o + i] + 0.25 * tmp[dn + i];
  }
}

/** Lighting, cast and noise, then quantise `[S,S,3]` floats (0..1) to bytes. */
function finish(rgb: Float32Array, size: number, post: PostParams, out: Uint8Array): void {
  const ca = Math.cos(post.lightAngle) * post.lightStrength;
  const sa = Math.sin(post.lightAngle) * post.lightStrength;
  const seed = post.noiseSeed | 0;
  // Each channel's noise is the sum of two 5-bit uniforms from one hash per pixel (triangular,
  // variance ~1/6 of the unit width), so one hash serves all three channels.
  const amp = (post.noise * 255) / Math.sqrt((2 * (32 * 32 - 1)) / 12);
  const [cr, cg, cb] = post.cast;
  const k = post.exposure * 255;
  for (let y = 0; y < size; y++) {
    const rowLight = 1 + sa * ((y + 0.5) / size - 0.5) - 0.5 * ca;
    const dl = ca / size;
    let light = (rowLight + 0.5 * dl) * k;
    const dk = dl * k;
    let o = y * size * 3;
    let i = y * size;
    for (let x = 0; x < size; x++, o += 3, i++, light += dk) {
      const h = hash32(i ^ seed);
      const r = rgb[o] * light + cr * 255 + amp * ((h & 31) + ((h >>> 5) & 31) - 31) + 0.5;
      const g = rgb[o + 1] * light + cg * 255 + amp * (((h >>> 10) & 31) + ((h >>> 15) & 31) - 31) + 0.5;
      const b = rgb[o + 2] * light + cb * 255 + amp * (((h >>> 20) & 31) + ((h >>> 25) & 31) - 31) + 0.5;
      out[o] = r <= 0 ? 0 : r >= 255 ? 255 : r;
      out[o + 1] = g <= 0 ? 0 : g >= 255 ? 255 : g;
      out[o + 2] = b <= 0 ? 0 : b >= 255 ? 255 : b;
    }
  }
}

/** Scratch buffers for one image size, reused so rendering allocates nothing per image. */
export class Renderer {
  private readonly canvas: Canvas;
  private readonly tmp: Float32Array;
  private readonly toPixels;

  constructor(readonly size: number) {
    this.canvas = new Canvas(size);
    this.tmp = new Float32Array(size * size * 3);
    this.toPixels = pixelToImage(size);
  }

  /** Render into `rgb` `[S,S,3]` bytes and `label` `[S,S]` class ids. */
  render(scene: Scene, rgb: Uint8Array, label: Uint8Array): void {
    const { canvas } = this;
    for (const s of scene.shapes) {
      drawShape(canvas, {
        kind: s.kind,
        toLocal: compose(s.frame, this.toPixels),
        extent: s.extent,
        p: s.p,
        paints: s.paints,
      });
    }
    if (scene.post.blur) blur121(canvas.rgb, this.size, this.tmp);
    finish(canvas.rgb, this.size, scene.post, rgb);
    label.set(canvas.label);
  }
}

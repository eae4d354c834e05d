/**
 * Seeded data augmentation on typed arrays (no tensors): horizontal flip with the LaPa
 * left/right swap, random scale, rotation and shift in one inverse warp (image bilinear,
 * labels nearest), and colour jitter. Used for training only; evaluation reads samples
 * untouched.
 *
 * Pixels that the warp brings in from outside the source image get the image value 0
 * (mid grey in the normalised range) and, by default, the label 255 (ignore): nothing is
 * known about them, so they neither reward nor penalise a prediction. `outOfFrame:
 * 'background'` labels them 0 instead.
 */
import { FLIP_PERMUTATION, IGNORE_INDEX } from '../classes.js';
import { FprlError } from '../errors.js';
import type { Rng } from '../rng.js';
import type { Sample } from '../types.js';

export interface AugmentOptions {
  /** Probability of a horizontal flip (brows 2<->3 and eyes 4<->5 swap). Default 0.5. */
  flip?: number;
  /** Zoom factor range [min, max]. Default [0.9, 1.1]; [1, 1] turns it off. */
  scale?: [number, number];
  /** Largest rotation in degrees (uniform in +-rotate). Default 10; 0 turns it off. */
  rotate?: number;
  /** Largest shift per axis as a fraction of the side (uniform in +-shift). Default 0.05. */
  shift?: number;
  /**
   * Colour jitter strengths: brightness (added, in 0..1 units), contrast and saturation
   * (factors in 1 +- value). Default 0.15 each; false turns jitter off.
   */
  colorJitter?: { brightness?: number; contrast?: number; saturation?: number } | false;
  /** Label of pixels brought in from outside the image: 'ignore' (255, default) or 'background' (0). */
  outOfFrame?: 'ignore' | 'background';
}

export interface ResolvedAugment {
  flip: number;
  scale: [number, number];
  rotate: number;
  shift: number;
  brightness: number;
  contrast: number;
  saturation: number;
  outOfFrameLabel: number;
}

export const DEFAULT_AUGMENT: ResolvedAugment = {
  flip: 0.5,
  scale: [0.9, 1.1],
  rotate: 10,
  shift: 0.05,
  brightness: 0.15,
  contrast: 0.15,
  saturation: 0.15,
  outOfFrameLabel: IGNORE_INDEX,
};

function bad(field: string, msg: string): FprlError {
  return new FprlError(msg, { where: `augment.${field}`, hint: 'see AugmentOptions in src/data/augment.ts' });
}

/** Fill defaults and check ranges. */
export function resolveAugment(opts: AugmentOptions = {}): ResolvedAugment {
  const d = DEFAULT_AUGMENT;
  const jit =
    opts.colorJitter === false ? { brightness: 0, contrast: 0, saturation: 0 } : (opts.colorJitter ?? {});
  const r: ResolvedAugment = {
    flip: opts.flip ?? d.flip,
    scale: opts.scale ?? d.scale,
    rotate: opts.rotate ?? d.rotate,
    shift: opts.shift ?? d.shift,
    brightness: jit.brightness ?? d.brightness,
    contrast: jit.contrast ?? d.contrast,
    saturation: jit.saturation ?? d.saturation,
    outOfFrameLabel: (opts.outOfFrame ?? 'ignore') === 'ignore' ? IGNORE_INDEX : 0,
  };
  if (!(r.flip >= 0 && r.flip <= 1)) throw bad('flip', `flip must be a probability in [0, 1], got ${r.flip}`);
  if (!(r.scale.length === 2 && r.scale[0] > 0 && r.scale[0] <= r.scale[1])) {
    throw bad('scale', `scale must be [min, max] with 0 < min <= max, got ${JSON.stringify(r.scale)}`);
  }
  if (!(r.rotate >= 0 && r.rotate <= 180))
    throw bad('rotate', `rotate must be degrees in [0, 180], got ${r.rotate}`);
  if (!(r.shift >= 0 && r.shift <= 1))
    throw bad('shift', `shift must be a fraction in [0, 1], got ${r.shift}`);
  for (const k of ['brightness', 'contrast', 'saturation'] as const) {
    if (!(r[k] >= 0 && r[k] <= 1)) throw bad(`colorJitter.${k}`, `${k} must be in [0, 1], got ${r[k]}`);
  }
  if (opts.outOfFrame !== undefined && opts.outOfFrame !== 'ignore' && opts.outOfFrame !== 'background') {
    throw bad('outOfFrame', `outOfFrame must be 'ignore' or 'background', got '${opts.outOfFrame}'`);
  }
  return r;
}

/** Horizontal mirror of a sample; labels swap left and right (FLIP_PERMUTATION). */
export function flipSample(s: Sample): Sample {
  const { height: H, width: W } = s;
  const image = new Float32Array(s.image.length);
  const label = new Uint8Array(s.label.length);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const src = y * W + (W - 1 - x);
      const dst = y * W + x;
      image[dst * 3] = s.image[src * 3];
      image[dst * 3 + 1] = s.image[src * 3 + 1];
      image[dst * 3 + 2] = s.image[src * 3 + 2];
      const v = s.label[src];
      label[dst] = v < FLIP_PERMUTATION.length ? FLIP_PERMUTATION[v] : v;
    }
  }
  return { ...s, image, label };
}

/** Inverse warp: output pixel centre -> source position, image bilinear, label nearest. */
function warp(
  s: Sample,
  flip: boolean,
  scale: number,
  angle: number,
  tx: number,
  ty: number,
  oofLabel: number,
): Sample {
  const { height: H, width: W } = s;
  const image = new Float32Array(s.image.length);
  const label = new Uint8Array(s.label.length);
  const cx = W / 2;
  const cy = H / 2;
  const cos = Math.cos(angle) / scale;
  const sin = Math.sin(angle) / scale;
  const src = s.image;
  const lab = s.label;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      // Undo shift, rotation and scale about the centre, then the flip.
      const ox = x + 0.5 - cx - tx;
      const oy = y + 0.5 - cy - ty;
      let u = cx + cos * ox + sin * oy;
      const v = cy - sin * ox + cos * oy;
      if (flip) u = W - u;
      const dst = y * W + x;
      if (u < 0 || u >= W || v < 0 || v >= H) {
        label[dst] = oofLabel;
        continue; // image stays 0: mid grey
      }
      const l = lab[Math.floor(v) * W + Math.floor(u)];
      label[dst] = flip && l < FLIP_PERMUTATION.length ? FLIP_PERMUTATION[l] : l;
      // Bilinear on pixel centres, taps clamped to the border.
      const fx = u - 0.5;
      const fy = v - 0.5;
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      const ax = fx - x0;
      const ay = fy - y0;
      const xa = x0 < 0 ? 0 : x0;
      const xb = x0 + 1 > W - 1 ? W - 1 : x0 + 1;
      const ya = y0 < 0 ? 0 : y0;
      const yb = y0 + 1 > H - 1 ? H - 1 : y0 + 1;
      const i00 = (ya * W + xa) * 3;
      const i01 = (ya * W + xb) * 3;
      const i10 = (yb * W + xa) * 3;
      const i11 = (yb * W + xb) * 3;
      const w00 = (1 - ax) * (1 - ay);
      const w01 = ax * (1 - ay);
      const w10 = (1 - ax) * ay;
      const w11 = ax * ay;
      for (let c = 0; c < 3; c++) {
        image[dst * 3 + c] =
          w00 * src[i00 + c] + w01 * src[i01 + c] + w10 * src[i10 + c] + w11 * src[i11 + c];
      }
    }
  }
  return { ...s, image, label };
}

/** Brightness, contrast (about the mean grey) and saturation (about each pixel's grey), in place. */
function jitterColour(img: Float32Array, brightness: number, contrast: number, saturation: number): void {
  const n = img.length / 3;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += 0.299 * img[i * 3] + 0.587 * img[i * 3 + 1] + 0.114 * img[i * 3 + 2];
  mean /= n;
  const shift = 2 * brightness; // normalised range is twice the 0..1 range
  for (let i = 0; i < n; i++) {
    const o = i * 3;
    const grey = 0.299 * img[o] + 0.587 * img[o + 1] + 0.114 * img[o + 2];
    for (let c = 0; c < 3; c++) {
      let v = grey + (img[o + c] - grey) * saturation;
      v = mean + (v - mean) * contrast + shift;
      img[o + c] = v < -1 ? -1 : v > 1 ? 1 : v;
    }
  }
}

/**
 * Augment one sample with draws from `rng`. The same draws are made whatever is enabled,
 * so turning one component off leaves the others' randomness unchanged. Returns new arrays.
 */
export function augmentSample(s: Sample, opts: ResolvedAugment, rng: Rng): Sample {
  const flip = rng.next() < opts.flip;
  const scale = rng.uniform(opts.scale[0], opts.scale[1]);
  const angle = (rng.uniform(-1, 1) * opts.rotate * Math.PI) / 180;
  const tx = rng.uniform(-1, 1) * opts.shift * s.width;
  const ty = rng.uniform(-1, 1) * opts.shift * s.height;
  const b = rng.uniform(-1, 1) * opts.brightness;
  const c = 1 + rng.uniform(-1, 1) * opts.contrast;
  const sat = 1 + rng.uniform(-1, 1) * opts.saturation;
  const geometric = scale !== 1 || angle !== 0 || tx !== 0 || ty !== 0;
  let out: Sample;
  if (geometric) out = warp(s, flip, scale, angle, tx, ty, opts.outOfFrameLabel);
  else if (flip) out = flipSample(s);
  else out = { ...s, image: s.image.slice(), label: s.label.slice() };
  if (b !== 0 || c !== 1 || sat !== 1) jitterColour(out.image, b, c, sat);
  return out;
}

/**
 * The one place that defines how pixels become model inputs. Every image the framework
 * feeds a model (synthetic, LaPa, CelebAMask-HQ, `fprl predict` inputs) goes through
 * {@link normalizeImage}, so training and evaluation always agree.
 */

/** Range of normalised pixel values: 0 maps to -1, 255 maps to +1. */
export const IMAGE_RANGE = [-1, 1] as const;

/**
 * RGB bytes `[H,W,3]` (0..255) to floats `[H,W,3]` in {@link IMAGE_RANGE}.
 * Writes into `out` when given (it must have the same length), so batches can be filled
 * without allocating.
 */
export function normalizeImage(rgb: Uint8Array | Uint8ClampedArray, out?: Float32Array): Float32Array {
  const dst = out ?? new Float32Array(rgb.length);
  if (dst.length !== rgb.length) {
    throw new RangeError(`normalizeImage: out has ${dst.length} values, input has ${rgb.length}`);
  }
  for (let i = 0; i < rgb.length; i++) dst[i] = rgb[i] / 127.5 - 1;
  return dst;
}

/** Inverse of {@link normalizeImage}: floats `[H,W,3]` to bytes, clamped and rounded. */
export function denormalizeImage(img: Float32Array): Uint8Array {
  const out = new Uint8Array(img.length);
  for (let i = 0; i < img.length; i++) {
    const v = Math.round((img[i] + 1) * 127.5);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}

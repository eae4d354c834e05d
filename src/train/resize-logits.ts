/**
 * Labels at another size than the model's: one image's logits resized bilinearly, then the
 * argmax (the LaPa protocol scores at each label's own size, as published tables do). The rule
 * is PyTorch's `F.interpolate(mode='bilinear', align_corners=False)`, which is tfjs's
 * `resizeBilinear` with `alignCorners` false and `halfPixelCenters` true: output pixel (y, x)
 * reads the input at ((y + 0.5) * h / H - 0.5, (x + 0.5) * w / W - 0.5), clamped to the edges.
 * One image at a time, so memory holds one [H,W,C] resize, whatever the set.
 */
import { resizeLabelNearest } from '../data/index.js';

export { labelsAtSize } from '../data/label-size.js';

/**
 * Labels of an agent without logits (the reference agents) at another size: nearest neighbour
 * from the model-size labels [h*w] (pixel centres, as the data layer resizes labels).
 */
export function labelsNearest(
  labels: ArrayLike<number>,
  h: number,
  w: number,
  height: number,
  width: number,
): Uint8Array {
  return resizeLabelNearest({ data: Uint8Array.from(labels), height: h, width: w }, height, width).data;
}

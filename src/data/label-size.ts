/**
 * Labels at another size than the model's: one image's logits resized bilinearly, then the
 * argmax (the LaPa protocol scores at each label's own size, as published tables do). The rule
 * is PyTorch's `F.interpolate(mode='bilinear', align_corners=False)`, which is tfjs's
 * `resizeBilinear` with `alignCorners` false and `halfPixelCenters` true: output pixel (y, x)
 * reads the input at ((y + 0.5) * h / H - 0.5, (x + 0.5) * w / W - 0.5), clamped to the edges.
 * One image at a time, so memory holds one [H,W,C] resize, whatever the set. Tensors only (no
 * files), so the browser page labels photos with this same function.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * The argmax labels [height*width] of image `index` of `logits` [B,h,w,C], resized bilinearly
 * to height x width first (no resize when the size is already that). Disposes what it makes.
 */
export function labelsAtSize(logits: tf.Tensor4D, index: number, height: number, width: number): Int32Array {
  const [, h, w, C] = logits.shape;
  const labels = tf.tidy(() => {
    const one = tf.slice(logits, [index, 0, 0, 0], [1, h, w, C]);
    const sized =
      h === height && w === width ? one : tf.image.resizeBilinear(one, [height, width], false, true);
    return tf.argMax(sized, -1);
  });
  try {
    return Int32Array.from(labels.dataSync() as Int32Array);
  } finally {
    labels.dispose();
  }
}

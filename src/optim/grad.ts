import * as tf from '@tensorflow/tfjs';

/** Global L2 norm of a list of gradients (one scalar read). */
export function globalNorm(grads: readonly tf.Tensor[]): number {
  if (grads.length === 0) return 0;
  return tf.tidy(
    () =>
      tf
        .addN(grads.map((g) => g.square().sum()))
        .sqrt()
        .dataSync()[0],
  );
}

/**
 * Scale `grads` so their global norm is at most `maxNorm` (0 = off). Returns new tensors
 * (the inputs are disposed) and the norm before clipping.
 */
export function clipByGlobalNorm(
  grads: tf.Tensor[],
  maxNorm: number,
): { grads: tf.Tensor[]; norm: number; clipped: boolean } {
  const norm = globalNorm(grads);
  if (!(maxNorm > 0) || !(norm > maxNorm)) return { grads, norm, clipped: false };
  const scale = maxNorm / norm;
  const out = grads.map((g) => tf.tidy(() => g.mul(scale)));
  grads.forEach((g) => g.dispose());
  return { grads: out, norm, clipped: true };
}

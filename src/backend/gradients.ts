/**
 * Gradient configs this project replaces in tfjs's registry (backend-independent; values are
 * identical to the stock ones). `registerFastGradients()` is called by initBackend.
 *
 * `Sum`: the stock gradient is `dy * ones(x.shape)`, and `tf.ones` fills the ones in a JS loop
 * and uploads them: for the per-pixel losses over `[B,H,W,11]` (5.8M values at 256 px, batch 8,
 * several per step) that is tens of ms per training step on wasm. Here the ones come from the
 * backend's `Fill` kernel. dy * 1 is dy exactly, so the gradients do not change.
 */
import * as tf from '@tensorflow/tfjs';

export const sumGradConfig: tf.GradConfig = {
  kernelName: tf.Sum,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const shape = x.shape.slice();
    for (const a of tf.util.parseAxisParam((attrs as unknown as { axis: number | number[] }).axis, x.shape))
      shape[a] = 1;
    const dyT = Array.isArray(dy) ? dy[0] : dy;
    return { x: () => tf.mul(tf.reshape(dyT, shape), tf.fill(x.shape, 1, 'float32')) };
  },
};

let registered = false;

/** Replace the gradients above (idempotent). */
export function registerFastGradients(): void {
  if (registered) return;
  tf.registerGradient(sumGradConfig);
  registered = true;
}

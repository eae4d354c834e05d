import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/backend.js';

/** Switch the global tfjs backend for a test suite (`before(() => useBackend('wasm'))`). */
export async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (tf.getBackend() === name) return;
  await initBackend(name);
}

/** Run `fn` and return how many tensors it leaked. */
export async function leakedTensors(fn: () => Promise<unknown> | unknown): Promise<number> {
  const before = tf.memory().numTensors;
  await fn();
  return tf.memory().numTensors - before;
}

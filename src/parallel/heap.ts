/**
 * Moving a policy's weights and gradients between tensors and the pool's SharedArrayBuffers with
 * as few copies as the backend allows. On wasm a tensor's values are read straight from the heap
 * (`dataSync` would first copy them into a new array), and the gradient sum adds a worker's shard
 * into the main shard's gradient in place (the native addon's float32 adds: the same sums as
 * tf.add, without uploading the worker's values first). Both matter for large models: the `seed`
 * preset moves 26.6M weights and gradients per step.
 */
import * as tf from '@tensorflow/tfjs';
import { nativeAddon } from '../native/index.js';
import { asWasmBackend, float32View, tensorData } from '../wasm/internals.js';

/** The tensor's float32 values as a view of the wasm heap, when on wasm and it owns its data alone. */
function heapView(t: tf.Tensor, alone: boolean): Float32Array | undefined {
  if (tf.getBackend() !== 'wasm' || t.dtype !== 'float32') return undefined;
  const backend = asWasmBackend(tf.backend());
  if (alone && tensorData(backend, t).refCount !== 1) return undefined;
  return float32View(backend, t);
}

/** Copy `t`'s values into `into` from element `at` on. */
export function copyValues(t: tf.Tensor, into: Float32Array, at: number): void {
  into.set(heapView(t, false) ?? (t.dataSync() as Float32Array), at);
}

/**
 * `acc += src` in place when `acc` is a float32 wasm tensor whose data no other tensor shares and
 * the native addon is built; false (nothing done) otherwise, and the caller adds with tf.add.
 */
export function addInPlace(acc: tf.Tensor, src: Float32Array): boolean {
  const addon = nativeAddon();
  const view = addon && src.length === acc.size ? heapView(acc, true) : undefined;
  if (!view) return false;
  addon!.addInto(view, src);
  return true;
}

import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend.js';
import { addInPlace, copyValues } from '../../src/parallel/heap.js';
import { nativeAddon } from '../../src/native/index.js';

describe('moving weights and gradients for the pool (src/parallel/heap.ts)', () => {
  for (const backend of ['wasm', 'cpu'] as const) {
    it(`copies a tensor's values into a buffer at an offset on ${backend}`, async () => {
      await useBackend(backend);
      const t = tf.tensor2d([1.5, -2, 3, 4e-39], [2, 2]);
      const buf = new Float32Array(7);
      copyValues(t, buf, 2);
      expect(Array.from(buf)).to.deep.equal([0, 0, 1.5, -2, 3, Math.fround(4e-39), 0]);
      t.dispose();
    });
  }

  it('adds in place exactly as tf.add on wasm, but never into data another tensor shares', async function () {
    await useBackend('wasm');
    if (!nativeAddon()) this.skip();
    const a = tf.tensor1d([0.1, 1e8, -3, NaN]);
    const src = Float32Array.of(0.2, 1, 3, 1);
    const want = tf.tidy(() => tf.add(a, tf.tensor1d(src)).dataSync());
    expect(addInPlace(a, src)).to.equal(true);
    expect(Array.from(a.dataSync())).to.deep.equal(Array.from(want));
    const shared = tf.clone(a); // zero-copy on wasm: the two share one buffer
    expect(addInPlace(a, src)).to.equal(false);
    expect(Array.from(shared.dataSync())).to.deep.equal(Array.from(want));
    expect(addInPlace(a, new Float32Array(3))).to.equal(false);
    tf.dispose([a, shared]);
  });
});

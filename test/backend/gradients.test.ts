import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend.js';
import { sumGradConfig } from '../../src/backend/gradients.js';

describe('replaced gradients (src/backend/gradients.ts)', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`give the Sum gradient dy broadcast over the summed axes on ${backend}, NaN and -0 included`, async () => {
      await useBackend(backend);
      expect(tf.getGradient(tf.Sum)).to.equal(sumGradConfig);
      const x = tf.ones([2, 3, 4]);
      for (const [axis, keep] of [
        [[1], false],
        [[0, 2], true],
        [undefined, false],
        [[2], true],
      ] as [number[] | undefined, boolean][]) {
        const before = tf.memory().numTensors;
        const g = tf.tidy(() => {
          const y = tf.sum(x, axis, keep);
          // dy with special values: the gradient must carry them exactly (dy * 1 = dy).
          const dy = tf.tensor(
            Array.from({ length: y.size }, (_, i) => [NaN, -0, 2.5, -1e-40][i % 4]),
            y.shape,
          );
          return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.sum(v, axis, keep), dy)))(x);
        });
        const want = tf.tidy(() => {
          const kept = tf.sum(x, axis, true).shape;
          const dy = tf.tensor(
            Array.from({ length: kept.reduce((a, b) => a * b, 1) }, (_, i) => [NaN, -0, 2.5, -1e-40][i % 4]),
            kept,
          );
          return tf.broadcastTo(dy, x.shape);
        });
        const got = Array.from(g.dataSync());
        const exp = Array.from(want.dataSync());
        expect(got.map((v) => (Object.is(v, -0) ? '-0' : String(v)))).to.deep.equal(
          exp.map((v) => (Object.is(v, -0) ? '-0' : String(v))),
          `axis ${axis} keepDims ${keep}`,
        );
        tf.dispose([g, want]);
        expect(tf.memory().numTensors).to.equal(before);
      }
      x.dispose();
    });
  }
  after(async () => {
    await useBackend('wasm');
  });
});

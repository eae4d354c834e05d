import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend.js';

describe('zero-copy wasm Identity and Cast', () => {
  before(async () => {
    await useBackend('wasm');
  });

  it('clones without new wasm memory, and the clone outlives its source', () => {
    const x = tf.tensor([1, 2, 3, 4], [2, 2]);
    const ids = tf.backend().numDataIds();
    const y = tf.clone(x);
    expect(tf.backend().numDataIds()).to.equal(ids);
    x.dispose();
    expect(Array.from(y.dataSync())).to.deep.equal([1, 2, 3, 4]);
    y.dispose();
    expect(tf.backend().numDataIds()).to.equal(ids - 1);
  });

  it('casts to the same dtype without a copy and still converts between dtypes', () => {
    const x = tf.tensor([1.5, -2.25, 3]);
    const ids = tf.backend().numDataIds();
    const same = tf.cast(x, 'float32');
    expect(tf.backend().numDataIds()).to.equal(ids);
    const asInt = tf.cast(x, 'int32');
    expect(asInt.dtype).to.equal('int32');
    expect(Array.from(asInt.dataSync())).to.deep.equal([1, -2, 3]);
    x.dispose();
    expect(Array.from(same.dataSync())).to.deep.equal([1.5, -2.25, 3]);
    tf.dispose([same, asInt]);
  });

  it('keeps what a custom gradient saved intact and leaks nothing', () => {
    const square = tf.customGrad((...args) => {
      const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
      save([x]);
      return {
        value: tf.mul(x, x),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tf.mul(saved[0], 2)),
      };
    }) as (x: tf.Tensor) => tf.Tensor;
    const x = tf.tensor([1, -2, 3]);
    const before = tf.memory().numTensors;
    const g = tf.tidy(() => tf.grad((v: tf.Tensor) => tf.sum(square(v)))(x));
    expect(Array.from(g.dataSync())).to.deep.equal([2, -4, 6]);
    g.dispose();
    expect(tf.memory().numTensors).to.equal(before);
    x.dispose();
  });
});

import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend.js';
import { fastWasmKernels, runStockWasmKernel } from '../../src/wasm/kernels.js';
import { nativeMatMul } from '../../src/native/index.js';
import { Rng } from '../../src/core/rng.js';

describe('wasm ArgMax', () => {
  before(async () => {
    await useBackend('wasm');
  });

  /** Random logits with ties (values on a coarse grid) and a few NaNs and infinities. */
  function logits(n: number, seed: string): Float32Array {
    const rng = new Rng(seed);
    return Float32Array.from({ length: n }, () => {
      const u = rng.next();
      if (u < 0.01) return NaN;
      if (u < 0.015) return Infinity;
      if (u < 0.02) return -Infinity;
      return Math.round(rng.next() * 8) / 2 - 2;
    });
  }

  it('gives the stock kernel labels over the last axis, ties, NaN and infinities included', function () {
    if (!nativeMatMul()?.argMax) this.skip();
    expect(fastWasmKernels()).to.include('ArgMax');
    for (const shape of [
      [8, 16, 16, 11],
      [37, 11],
      [5, 1],
      [3, 4, 2],
      [7],
    ]) {
      for (const axis of [shape.length - 1, -1]) {
        tf.tidy(() => {
          const x = tf.tensor(logits(shape.reduce((a, b) => a * b, 1), `argmax/${shape.join('x')}`), shape);
          const got = tf.argMax(x, axis);
          const want = runStockWasmKernel('ArgMax', { x }, { axis });
          expect(got.shape, `${shape}`).to.deep.equal(want.shape);
          expect(got.dtype).to.equal('int32');
          expect([...got.dataSync()], `shape ${shape}, axis ${axis}`).to.deep.equal([...want.dataSync()]);
        });
      }
    }
  });

  it('leaves other axes and dtypes to the stock kernel, and leaks no tensors', () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.tensor([3, 1, 2, 9, 0, 4], [2, 3]);
      expect([...tf.argMax(x, 0).dataSync()]).to.deep.equal([1, 0, 1]);
      expect([...tf.argMax(x, 1).dataSync()]).to.deep.equal([0, 0]);
      expect([...tf.argMax(tf.tensor([1, 5, 2], [3], 'int32')).dataSync()]).to.deep.equal([1]);
    });
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('refuses a row width that does not divide the input', function () {
    const addon = nativeMatMul();
    if (!addon?.argMax) this.skip();
    expect(() => addon.argMax!(new Float32Array(10), new Int32Array(4), 3)).to.throw(/multiple of cols/);
    expect(() => addon.argMax!(new Float32Array(9), new Int32Array(2), 3)).to.throw(/shorter/);
    expect(() => addon.argMax!(new Float32Array(9), new Int32Array(3), 0)).to.throw(/positive/);
  });
});

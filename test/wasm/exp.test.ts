import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend.js';
import { runStockWasmKernel, setFastWasmKernels } from '../../src/wasm/kernels.js';
import { nativeMatMul, setNativeMatMul } from '../../src/native/index.js';

describe('wasm Exp', () => {
  before(async () => {
    await useBackend('wasm');
  });

  const x = Float32Array.from({ length: 4099 }, (_, i) => -80 + (160 * i) / 4099);

  it('equals the stock kernel within 2 ulp on the native addon, bit for bit without it', function () {
    const routes = nativeMatMul() ? [true, false] : [false];
    for (const native of routes) {
      const was = setNativeMatMul(native);
      try {
        tf.tidy(() => {
          const t = tf.tensor1d(x);
          const got = tf.exp(t).dataSync();
          const want = runStockWasmKernel('Exp', { x: t }, {}).dataSync();
          for (let i = 0; i < x.length; i++) {
            if (native) expect(got[i], `exp(${x[i]})`).to.be.closeTo(want[i], 2.5e-7 * want[i]);
            else expect(got[i]).to.equal(want[i]);
          }
        });
      } finally {
        setNativeMatMul(was);
      }
    }
  });

  it('keeps the gradient of exp (exp itself) and leaks no tensors', () => {
    const t = tf.tensor1d([-1, 0, 2]);
    const before = tf.memory().numTensors;
    const g = tf.tidy(() =>
      tf
        .grad((v: tf.Tensor) => tf.sum(tf.exp(v)))(t)
        .dataSync(),
    );
    expect(tf.memory().numTensors).to.equal(before);
    [-1, 0, 2].forEach((v, i) => expect(g[i]).to.be.closeTo(Math.exp(v), 1e-6 * Math.exp(v)));
    t.dispose();
  });

  it('goes to the stock kernel when the fast kernels are off, and for int32', () => {
    setFastWasmKernels(false);
    try {
      tf.tidy(() => {
        expect(tf.exp(tf.tensor1d([0, 1])).dataSync()[1]).to.be.closeTo(Math.E, 1e-6);
      });
    } finally {
      setFastWasmKernels(true);
    }
    tf.tidy(() => {
      const y = tf.exp(tf.tensor1d([0, 1], 'int32'));
      expect(y.dtype).to.equal('float32');
      expect(y.dataSync()[1]).to.be.closeTo(Math.E, 1e-6);
    });
  });
});

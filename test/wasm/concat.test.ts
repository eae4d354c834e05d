import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend.js';
import { Rng } from '../../src/core/rng.js';
import { runStockWasmKernel } from '../../src/wasm/kernels.js';
import { nativeMatMul, setNativeMatMul } from '../../src/native/index.js';

// [shapes of the parts, axis]: channel concats of NHWC maps (runs of 3 and 5 values per pixel),
// the nearest-upsampling pattern (a map with itself), middle and outer axes, an empty part.
const CASES: [number[][], number][] = [
  [
    [
      [2, 4, 5, 3],
      [2, 4, 5, 5],
    ],
    3,
  ],
  [
    [
      [2, 4, 5, 3],
      [2, 4, 5, 3],
    ],
    3,
  ],
  [
    [
      [2, 4, 15],
      [2, 4, 15],
    ],
    2,
  ],
  [
    [
      [3, 2, 4],
      [3, 5, 4],
      [3, 1, 4],
    ],
    1,
  ],
  [
    [
      [2, 3],
      [4, 3],
    ],
    0,
  ],
  [
    [
      [2, 0, 3],
      [2, 4, 3],
      [2, 1, 3],
    ],
    1,
  ],
];

describe('wasm Concat (native strided copy)', () => {
  before(async () => {
    await useBackend('wasm');
  });

  const routes = nativeMatMul()?.copyRuns ? [true, false] : [false];
  for (const native of routes)
    for (const dtype of ['float32', 'int32', 'bool'] as const)
      it(`gives the stock kernel's values for every case (${dtype}, ${native ? 'native copy' : 'stock'})`, () => {
        const was = setNativeMatMul(native);
        try {
          const rng = new Rng(3);
          for (const [shapes, axis] of CASES) {
            tf.tidy(() => {
              const parts = shapes.map((s) => {
                const n = s.reduce((a, b) => a * b, 1);
                const v = Array.from({ length: n }, () => Math.floor(rng.uniform() * 1000) - 500);
                return dtype === 'bool'
                  ? tf.tensor(
                      v.map((x) => x > 0),
                      s,
                      'bool',
                    )
                  : tf.tensor(v, s, dtype);
              });
              const got = tf.concat(parts, axis);
              const want = runStockWasmKernel('Concat' as never, parts as never, { axis });
              expect(got.shape, `${JSON.stringify(shapes)} axis ${axis}`).to.deep.equal(want.shape);
              expect(Array.from(got.dataSync())).to.deep.equal(Array.from(want.dataSync()));
            });
          }
        } finally {
          setNativeMatMul(was);
        }
      });

  it('splits back what it concatenated (SplitV runs on the same copy), and leaks nothing', () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const a = tf.tensor4d(
        Array.from({ length: 2 * 3 * 4 * 3 }, (_, i) => i),
        [2, 3, 4, 3],
      );
      const b = tf.tensor4d(
        Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => -i),
        [2, 3, 4, 5],
      );
      const [a2, b2] = tf.split(tf.concat([a, b], 3), [3, 5], 3);
      expect(Array.from(a2.dataSync())).to.deep.equal(Array.from(a.dataSync()));
      expect(Array.from(b2.dataSync())).to.deep.equal(Array.from(b.dataSync()));
      // The gradient of a concat is a split of dy.
      const g = tf.grads((x, y) =>
        tf.sum(tf.mul(tf.concat([x, y], 3), tf.range(0, 8).reshape([1, 1, 1, 8]))),
      )([a, b]);
      expect(g[1].dataSync()[0]).to.equal(3);
    });
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('refuses runs outside the buffer', function () {
    const addon = nativeMatMul();
    if (!addon?.copyRuns) this.skip();
    const heap = new Uint8Array(64);
    expect(() => addon!.copyRuns!(heap, 0, 16, 32, 16, 16, 3)).to.throw(/outside the buffer/);
    expect(() => addon!.copyRuns!(heap, 0, 8, 32, 8, 8, 4)).to.not.throw();
  });
});

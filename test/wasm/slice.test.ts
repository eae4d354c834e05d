import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend.js';
import { Rng } from '../../src/core/rng.js';

/** Element-by-element reference slice on flat row-major data. */
function referenceSlice(x: ArrayLike<number>, shape: number[], begin: number[], size: number[]): number[] {
  const out: number[] = [];
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const total = size.reduce((a, b) => a * b, 1);
  for (let o = 0; o < total; o++) {
    let rest = o;
    let src = 0;
    for (let d = size.length - 1; d >= 0; d--) {
      src += (begin[d] + (rest % size[d])) * strides[d];
      rest = Math.floor(rest / size[d]);
    }
    out.push(x[src]);
  }
  return out;
}

const CASES: [number[], number[], number[]][] = [
  [[10], [3], [4]],
  [
    [6, 9],
    [1, 2],
    [4, 5],
  ], // rows of a column block
  [
    [6, 9],
    [2, 0],
    [3, 9],
  ], // whole rows: one run
  [
    [4, 5, 6],
    [1, 0, 0],
    [2, 5, 6],
  ],
  [
    [4, 5, 6],
    [0, 1, 2],
    [4, 3, 3],
  ],
  [
    [3, 4, 5, 6],
    [1, 1, 0, 0],
    [2, 2, 5, 6],
  ],
  [
    [2, 3, 4, 5, 6],
    [1, 0, 2, 1, 3],
    [1, 3, 2, 4, 2],
  ],
  [
    [5, 0, 3],
    [1, 0, 0],
    [2, 0, 3],
  ], // empty
];

describe('fast wasm Slice and SplitV', () => {
  before(async () => {
    await useBackend('wasm');
  });

  for (const dtype of ['float32', 'int32', 'bool'] as const) {
    it(`slice like the reference for every rank and offset (${dtype})`, () => {
      const rng = new Rng(`slice/${dtype}`);
      for (const [shape, begin, size] of CASES) {
        const n = shape.reduce((a, b) => a * b, 1);
        const values = Array.from({ length: n }, () => (dtype === 'bool' ? rng.int(0, 2) : rng.int(-99, 99)));
        tf.tidy(() => {
          const got = tf.slice(tf.tensor(values, shape, dtype), begin, size);
          expect(got.shape).to.deep.equal(size);
          expect(Array.from(got.dataSync()), `${shape} from ${begin} size ${size}`).to.deep.equal(
            referenceSlice(values, shape, begin, size),
          );
        });
      }
    });
  }

  it('resolves a size of -1 to the end of the axis', () => {
    tf.tidy(() => {
      const got = tf.slice(tf.range(0, 24).reshape([4, 6]), [1, 2], [-1, 3]);
      expect(got.shape).to.deep.equal([3, 3]);
      expect(Array.from(got.dataSync())).to.deep.equal([8, 9, 10, 14, 15, 16, 20, 21, 22]);
    });
  });

  it('splits along any axis into equal or given sizes, with gradients through the parts', () => {
    tf.tidy(() => {
      const x = tf.range(0, 60).reshape([3, 4, 5]);
      const parts = tf.split(x, [1, 3, 1], 2);
      expect(parts.map((p) => p.shape)).to.deep.equal([
        [3, 4, 1],
        [3, 4, 3],
        [3, 4, 1],
      ]);
      expect(Array.from(parts[1].dataSync()).slice(0, 6)).to.deep.equal([1, 2, 3, 6, 7, 8]);
      expect(Array.from(tf.concat(tf.split(x, 2, 1), 1).dataSync())).to.deep.equal(Array.from(x.dataSync()));
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.split(v, 3, 0)[1], 2)))(x);
      expect(Array.from(g.dataSync())).to.deep.equal([
        ...Array(20).fill(0),
        ...Array(20).fill(2),
        ...Array(20).fill(0),
      ]);
    });
  });
});

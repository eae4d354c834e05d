import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend.js';
import { Rng } from '../../src/core/rng.js';
import { simplifyTranspose, transposeFlat } from '../../src/wasm/transpose.js';
import { runStockWasmKernel, setFastWasmKernels, type FastWasmKernel } from '../../src/wasm/kernels.js';
import { nativeMatMul, setNativeMatMul } from '../../src/native/index.js';

/** Element-by-element reference: out[i_perm] = x[i]. */
function referenceTranspose(x: ArrayLike<number>, shape: number[], perm: number[]): number[] {
  const outShape = perm.map((p) => shape[p]);
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Array<number>(size);
  const inStrides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  for (let o = 0; o < size; o++) {
    let rest = o;
    let src = 0;
    for (let d = outShape.length - 1; d >= 0; d--) {
      src += (rest % outShape[d]) * inStrides[perm[d]];
      rest = Math.floor(rest / outShape[d]);
    }
    out[o] = x[src];
  }
  return out;
}

const CASES: [number[], number[]][] = [
  [
    [5, 7],
    [1, 0],
  ],
  [
    [64, 24],
    [1, 0],
  ], // R has more factors of two than C: 3-D route
  [
    [24, 64],
    [1, 0],
  ], // C has more: 2-D route
  [
    [3, 40, 17],
    [0, 2, 1],
  ], // batched 2-D
  [
    [4, 6, 3, 5],
    [0, 2, 1, 3],
  ], // runs of 5 (the attention head merge)
  [
    [2, 9, 3, 2, 8],
    [2, 0, 3, 1, 4],
  ], // rank 5 with runs (the qkv split)
  [
    [3, 2, 5, 4, 6],
    [4, 1, 3, 0, 2],
  ], // rank 5, innermost moves: tiles
  [
    [2, 1, 3, 1, 4, 5],
    [5, 3, 1, 4, 0, 2],
  ], // size-1 dims dropped
  [
    [2, 3, 4, 5, 6, 7],
    [0, 1, 2, 3, 4, 5],
  ], // identity
];

describe('fast wasm Transpose', () => {
  before(async () => {
    await useBackend('wasm');
  });
  afterEach(() => setFastWasmKernels(true));

  it('simplifies shapes by dropping size-1 dims and merging dims that stay adjacent', () => {
    expect(simplifyTranspose([8, 256, 3, 3, 64], [2, 0, 3, 1, 4])).to.deep.equal({
      shape: [8, 256, 3, 3, 64],
      perm: [2, 0, 3, 1, 4],
    });
    expect(simplifyTranspose([2, 3, 4, 5], [0, 1, 3, 2])).to.deep.equal({
      shape: [6, 4, 5],
      perm: [0, 2, 1],
    });
    expect(simplifyTranspose([1, 5, 1, 7], [2, 3, 0, 1])).to.deep.equal({ shape: [5, 7], perm: [1, 0] });
    expect(simplifyTranspose([2, 3, 4], [0, 1, 2])).to.deep.equal({ shape: [24], perm: [0] });
    expect(simplifyTranspose([4, 2, 3], [1, 2, 0])).to.deep.equal({ shape: [4, 6], perm: [1, 0] });
  });

  it('transposes flat int32 data like an element-by-element reference, at an offset', () => {
    const rng = new Rng('flat');
    for (const [shape, perm] of CASES) {
      const size = shape.reduce((a, b) => a * b, 1);
      const src = new Int32Array(size + 3).map(() => rng.int(-1000, 1000));
      const dst = new Int32Array(size + 5).fill(7);
      transposeFlat(src, 3, dst, 5, shape, perm);
      expect(Array.from(dst.subarray(5)), `${shape} by ${perm}`).to.deep.equal(
        referenceTranspose(src.subarray(3), shape, perm),
      );
      expect(Array.from(dst.subarray(0, 5))).to.deep.equal([7, 7, 7, 7, 7]);
    }
  });

  for (const dtype of ['float32', 'int32', 'bool'] as const) {
    it(`gives the reference result on wasm for every route (${dtype})`, () => {
      const rng = new Rng(`kernel/${dtype}`);
      for (const [shape, perm] of CASES) {
        const size = shape.reduce((a, b) => a * b, 1);
        const values = Array.from({ length: size }, () =>
          dtype === 'bool' ? rng.int(0, 2) : dtype === 'int32' ? rng.int(-50, 50) : rng.int(-50, 50) / 4,
        );
        tf.tidy(() => {
          const got = tf.transpose(tf.tensor(values, shape, dtype), perm);
          expect(got.shape).to.deep.equal(perm.map((p) => shape[p]));
          expect(Array.from(got.dataSync()), `${shape} by ${perm}`).to.deep.equal(
            referenceTranspose(values, shape, perm),
          );
        });
      }
    });
  }

  it('keeps float32 bit patterns (NaN payloads, -0) on every route', () => {
    const special = [0x7fc00001, 0x7f800001, -0x80000000, 0x3f800000, -1];
    for (const [shape, perm] of CASES) {
      const size = shape.reduce((a, b) => a * b, 1);
      const bits = Int32Array.from({ length: size }, (_, i) => special[i % special.length] ^ (i << 8));
      const x = tf.tensor(new Float32Array(bits.buffer), shape);
      const y = tf.transpose(x, perm);
      const got = Array.from(new Int32Array((y.dataSync() as Float32Array).slice().buffer));
      expect(got, `${shape} by ${perm}`).to.deep.equal(referenceTranspose(bits, shape, perm));
      tf.dispose([x, y]);
    }
  });

  const REDUCTIONS: [FastWasmKernel, (x: tf.Tensor, axis: number[], keep: boolean) => tf.Tensor][] = [
    ['Sum', (x, a, k) => tf.sum(x, a, k)],
    ['Mean', (x, a, k) => tf.mean(x, a, k)],
    ['Max', (x, a, k) => tf.max(x, a, k)],
    ['Min', (x, a, k) => tf.min(x, a, k)],
    ['Prod', (x, a, k) => tf.prod(x, a, k)],
  ];
  // Float32 Sum and Mean go to the native addon when it is built (src/native/: its own order and a
  // float64 accumulator); on the XNNPACK route they, like the others, must equal the stock kernel.
  const routes = nativeMatMul() ? [false, true] : [false];
  for (const [name, op] of REDUCTIONS) {
    for (const native of name === 'Sum' || name === 'Mean' ? routes : [false]) {
      it(`${name} over leading and middle axes equals the stock kernel${native ? ' within 1e-6 (native)' : ''}`, () => {
        const was = setNativeMatMul(native);
        try {
          const rng = new Rng(`reduce/${name}`);
          const shape = [6, 5, 4];
          const values = Array.from({ length: 120 }, () => rng.uniform(0.5, 1.5));
          for (const axis of [[0], [1], [0, 1], [0, 2], [2], [1, 2], [0, 1, 2]]) {
            for (const keep of [false, true]) {
              tf.tidy(() => {
                const x = tf.tensor(values, shape);
                const got = op(x, axis, keep);
                const axisKey = name === 'Max' ? 'reductionIndices' : 'axis';
                const want = runStockWasmKernel(name, { x }, { [axisKey]: axis, keepDims: keep });
                expect(got.shape, `axis ${axis} keepDims ${keep}`).to.deep.equal(want.shape);
                const g = Array.from(got.dataSync());
                const w = Array.from(want.dataSync());
                if (!native) expect(g).to.deep.equal(w);
                else
                  g.forEach((v, i) =>
                    expect(v, `axis ${axis} [${i}]`).to.be.closeTo(w[i], 1e-6 * Math.abs(w[i])),
                  );
              });
            }
          }
        } finally {
          setNativeMatMul(was);
        }
      });
    }
  }

  it('leaks nothing in the wasm tensor table', () => {
    const backend = tf.backend();
    const x = tf.ones([4, 3, 2, 5, 6]);
    const run = () =>
      tf.tidy(() => [tf.transpose(x, [4, 2, 0, 3, 1]), tf.sum(x, [0, 3]), tf.transpose(x, [0, 1, 2, 4, 3])]);
    tf.dispose(run());
    const ids = backend.numDataIds();
    const tensors = tf.memory().numTensors;
    tf.dispose(run());
    expect(backend.numDataIds()).to.equal(ids);
    expect(tf.memory().numTensors).to.equal(tensors);
    x.dispose();
  });
});

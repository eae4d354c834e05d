import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend.js';
import { Rng } from '../../src/core/rng.js';
import {
  fastWasmKernels,
  registerWasmKernels,
  runStockWasmKernel,
  setFastWasmKernels,
} from '../../src/wasm/kernels.js';
import { swapPays } from '../../src/wasm/batch-matmul.js';
import { kChunks } from '../../src/wasm/split-k.js';
import { maxAbsDiff, randomOperand, referenceMatMul, type Operand } from './reference.js';
import { nativeMatMul, setNativeMatMul } from '../../src/native/index.js';

/** A case in logical terms: op(a) is [...aBatch, M, K], op(b) is [...bBatch, K, N]. */
interface Case {
  name: string;
  aBatch: number[];
  bBatch: number[];
  M: number;
  K: number;
  N: number;
}

const CASES: Case[] = [
  { name: 'a single product', aBatch: [], bBatch: [], M: 13, K: 17, N: 19 },
  { name: 'a product larger than the XNNPACK tiles', aBatch: [], bBatch: [], M: 70, K: 65, N: 66 },
  {
    name: 'a product computed transposed (few rows, many columns)',
    aBatch: [],
    bBatch: [],
    M: 6,
    K: 40,
    N: 90,
  },
  { name: 'a long contraction summed over K chunks', aBatch: [], bBatch: [], M: 5, K: 5000, N: 7 },
  { name: 'a batch on both sides', aBatch: [3], bBatch: [3], M: 9, K: 7, N: 11 },
  { name: 'a batch of a with b shared', aBatch: [3], bBatch: [], M: 9, K: 7, N: 11 },
  { name: 'a batch of b with a shared', aBatch: [], bBatch: [3], M: 9, K: 7, N: 11 },
  { name: 'a batch of one broadcast against a batch', aBatch: [1], bBatch: [4], M: 5, K: 8, N: 6 },
  { name: 'a multi-dimensional broadcast batch', aBatch: [2, 1], bBatch: [3], M: 5, K: 8, N: 6 },
];

const FLAGS: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

const TOL = 1e-4;
/** Float32 sums of K products drift like sqrt(K) (values here are standard normal). */
const tolFor = (K: number) => TOL * Math.max(1, Math.sqrt(K) / 2);

function operands(c: Case, tA: boolean, tB: boolean, rng: Rng): { a: Operand; b: Operand } {
  const a = randomOperand([...c.aBatch, ...(tA ? [c.K, c.M] : [c.M, c.K])], rng);
  const b = randomOperand([...c.bBatch, ...(tB ? [c.N, c.K] : [c.K, c.N])], rng);
  return { a, b };
}

/** The stock kernel flattens the batch dims, so it is only right when they broadcast flat. */
function stockHandles(c: Case): boolean {
  const size = (s: number[]) => s.reduce((p, x) => p * x, 1);
  return (
    c.aBatch.length <= 1 &&
    c.bBatch.length <= 1 &&
    (size(c.aBatch) === size(c.bBatch) || size(c.aBatch) === 1 || size(c.bBatch) === 1)
  );
}

/** Both routes of the fast kernels: the native AVX2 matMul (when built here) and XNNPACK. */
const ROUTES = nativeMatMul() ? ['native AVX2', 'XNNPACK'] : ['XNNPACK'];

for (const route of ROUTES)
  describe(`fast wasm matMul kernels (${route})`, () => {
    before(async () => {
      await useBackend('wasm');
      setNativeMatMul(route !== 'XNNPACK');
    });
    after(() => setNativeMatMul(true));
    afterEach(() => setFastWasmKernels(true));

    it('compute a product transposed only when packing the other operand saves clearly more', () => {
      expect(swapPays({ M: 192, K: 2048, N: 576 }, true, false), 'qkv weight gradient').to.equal(true);
      expect(swapPays({ M: 1, K: 2048, N: 768 }, false, false), 'column sums').to.equal(true);
      expect(swapPays({ M: 768, K: 2048, N: 192 }, true, false), 'fc2 weight gradient').to.equal(false);
      expect(swapPays({ M: 2048, K: 192, N: 576 }, false, false), 'forward').to.equal(false);
      expect(swapPays({ M: 2048, K: 576, N: 192 }, false, true), 'input gradient').to.equal(false);
    });

    it('cut long contractions into chunks of about 2048 that sum to K', () => {
      expect(kChunks(4097)).to.deep.equal([1368, 1368, 1361]);
      expect(kChunks(11264)).to.deep.equal([1880, 1880, 1880, 1880, 1880, 1864]);
      expect(kChunks(2048)).to.deep.equal([2048]);
    });

    it('are registered by initBackend and registering again changes nothing', () => {
      expect(fastWasmKernels()).to.include.members(['BatchMatMul', '_FusedMatMul', 'Transpose', 'Sum']);
      expect(registerWasmKernels()).to.deep.equal([]);
    });

    for (const c of CASES) {
      for (const [tA, tB] of FLAGS) {
        it(`BatchMatMul equals the reference${stockHandles(c) ? ' and the stock kernel' : ''} for ${c.name} (transposeA=${tA}, transposeB=${tB})`, () => {
          const { a, b } = operands(c, tA, tB, new Rng(`${c.name}/${tA}/${tB}`));
          const want = referenceMatMul(a, b, tA, tB);
          tf.tidy(() => {
            const ta = tf.tensor(a.data, a.shape);
            const tb = tf.tensor(b.data, b.shape);
            const got = tf.matMul(ta, tb, tA, tB);
            expect(got.shape).to.deep.equal(want.shape);
            expect(maxAbsDiff(got.dataSync(), want.data)).to.be.below(tolFor(c.K));
            if (stockHandles(c)) {
              const stock = runStockWasmKernel(
                'BatchMatMul',
                { a: ta, b: tb },
                { transposeA: tA, transposeB: tB },
              );
              expect(maxAbsDiff(got.dataSync(), stock.dataSync())).to.be.below(tolFor(c.K));
            }
          });
        });
      }
    }

    it('FusedMatMul adds the bias to every row and applies the activation, with transposes and batches', () => {
      const rng = new Rng('fused');
      for (const [tA, tB] of FLAGS) {
        for (const c of CASES.filter((x) => x.aBatch.length <= 1 && x.bBatch.length <= 1)) {
          const { a, b } = operands(c, tA, tB, rng);
          const bias = randomOperand([c.N], rng);
          const want = referenceMatMul(a, b, tA, tB).data.map((v, i) => Math.max(0, v + bias.data[i % c.N]));
          tf.tidy(() => {
            const got = tf.fused.matMul({
              a: tf.tensor<tf.Rank>(a.data, a.shape) as tf.Tensor3D,
              b: tf.tensor<tf.Rank>(b.data, b.shape) as tf.Tensor3D,
              transposeA: tA,
              transposeB: tB,
              bias: tf.tensor1d(bias.data),
              activation: 'relu',
            });
            expect(maxAbsDiff(got.dataSync(), want), `${c.name} tA=${tA} tB=${tB}`).to.be.below(tolFor(c.K));
          });
        }
      }
    });

    it('multiply by the current shape of b when its data was used before with another shape', () => {
      // The stock kernel caches XNNPACK's packed b by tensor id, and tf.reshape keeps the id.
      const rng = new Rng('reshape');
      const x = randomOperand([64, 16], rng);
      const bias = randomOperand([64], rng);
      tf.tidy(() => {
        const tx = tf.tensor(x.data, x.shape);
        tf.matMul(tf.ones([1, 64]), tx).dataSync();
        tf.fused.matMul({ a: tf.ones([1, 64]), b: tx as tf.Tensor2D, bias: tf.zeros([16]) }).dataSync();
        const y = { shape: [16, 64], data: x.data };
        const ones = { shape: [3, 16], data: new Float32Array(48).fill(1) };
        const want = referenceMatMul(ones, y, false, false).data;
        const ty = tf.reshape(tx, [16, 64]) as tf.Tensor2D;
        expect(maxAbsDiff(tf.matMul(tf.ones([3, 16]), ty).dataSync(), want)).to.be.below(TOL);
        const fused = tf.fused.matMul({ a: tf.ones([3, 16]), b: ty, bias: tf.tensor1d(bias.data) });
        expect(
          maxAbsDiff(
            fused.dataSync(),
            want.map((v, i) => v + bias.data[i % 64]),
          ),
        ).to.be.below(TOL);
      });
    });

    it('give the stock results when switched off', () => {
      const { a, b } = operands(CASES[2], true, false, new Rng('off'));
      tf.tidy(() => {
        const ta = tf.tensor(a.data, a.shape);
        const tb = tf.tensor(b.data, b.shape);
        setFastWasmKernels(false);
        const off = tf.matMul(ta, tb, true, false).dataSync();
        const stock = runStockWasmKernel(
          'BatchMatMul',
          { a: ta, b: tb },
          { transposeA: true, transposeB: false },
        );
        expect(maxAbsDiff(off, stock.dataSync())).to.equal(0);
      });
    });

    it('leak no tensors, forward and backward, in tfjs or in the wasm tensor table', () => {
      const rng = new Rng('leak');
      const a = tf.tensor(randomOperand([6, 12, 8], rng).data, [6, 12, 8]);
      const b = tf.tensor(randomOperand([6, 10, 8], rng).data, [6, 10, 8]);
      const w = tf.tensor(randomOperand([8, 5], rng).data, [8, 5]);
      const bias = tf.tensor(randomOperand([5], rng).data, [5]);
      const backend = tf.backend();
      const step = () =>
        tf.tidy(() => {
          const f = (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
            tf.sum(
              tf.fused.matMul({
                a: tf.reshape(tf.matMul(x, y, false, true), [72, 10]).slice([0, 0], [72, 8]) as tf.Tensor2D,
                b: z as tf.Tensor2D,
                bias,
              }),
            );
          tf.grads(f)([a, b, w]).forEach((g) => g.dataSync());
        });
      step();
      const tensors = tf.memory().numTensors;
      const dataIds = backend.numDataIds();
      for (let i = 0; i < 3; i++) step();
      expect(tf.memory().numTensors).to.equal(tensors);
      expect(backend.numDataIds()).to.equal(dataIds);
      tf.dispose([a, b, w, bias]);
    });

    it('do not grow the wasm heap over repeated batched products (views and XNNPACK operators are released)', () => {
      const rng = new Rng('heap');
      const q = tf.tensor(randomOperand([24, 64, 32], rng).data, [24, 64, 32]);
      const k = tf.tensor(randomOperand([24, 64, 32], rng).data, [24, 64, 32]);
      const heap = () =>
        (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength;
      // Fresh operand values every call, so a cache of packed weights keyed by content would show.
      const run = (i: number) =>
        tf.tidy(() => {
          const ki = tf.add(k, i);
          return tf.matMul(tf.matMul(q, ki, false, true), ki).dataSync();
        });
      for (let i = 0; i < 5; i++) run(i);
      const before = heap();
      // A leak of one packed 64x32 operand per slice would add 2*24*8 KiB per call: > 20 MiB here.
      for (let i = 0; i < 60; i++) run(i + 5);
      expect(heap() - before).to.be.below(2 * 1024 * 1024);
      tf.dispose([q, k]);
    });
  });

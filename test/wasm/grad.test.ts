import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend.js';
import { Rng } from '../../src/core/rng.js';
import { maxAbsDiff, randomOperand, type Operand } from './reference.js';
import { nativeMatMul, setNativeMatMul } from '../../src/native/index.js';

/** Gradients of sum(w * op(a, b)) w.r.t. a and b (and the bias for the fused case), as arrays. */
function gradients(
  a: Operand,
  b: Operand,
  w: Operand,
  bias: Operand | undefined,
  tA: boolean,
  tB: boolean,
): Float32Array[] {
  return tf.tidy(() => {
    const ta = tf.tensor(a.data, a.shape);
    const tb = tf.tensor(b.data, b.shape);
    const tw = tf.tensor(w.data, w.shape);
    const xs = [ta, tb];
    let f: (...args: tf.Tensor[]) => tf.Tensor;
    if (bias) {
      xs.push(tf.tensor(bias.data, bias.shape));
      f = (x, y, z) =>
        tf.sum(
          tf.mul(
            tw,
            tf.fused.matMul({
              a: x as tf.Tensor2D,
              b: y as tf.Tensor2D,
              bias: z,
              transposeA: tA,
              transposeB: tB,
            }),
          ),
        );
    } else {
      f = (x, y) => tf.sum(tf.mul(tw, tf.matMul(x, y, tA, tB)));
    }
    return tf
      .grads(f)(xs)
      .map((g) => g.dataSync() as Float32Array);
  });
}

const ROUTES = nativeMatMul() ? ['native AVX2', 'XNNPACK'] : ['XNNPACK'];

for (const route of ROUTES)
  describe(`matMul gradients on wasm (${route})`, () => {
    before(() => setNativeMatMul(route !== 'XNNPACK'));
    after(async () => {
      setNativeMatMul(true);
      await useBackend('wasm');
    });

    const shapes: { name: string; batch: number[]; M: number; K: number; N: number; fused?: boolean }[] = [
      { name: 'a 2-D product', batch: [], M: 12, K: 9, N: 10 },
      { name: 'a batched (attention-like) product', batch: [4], M: 8, K: 6, N: 8 },
      { name: 'a fused product with bias', batch: [], M: 12, K: 9, N: 10, fused: true },
    ];
    for (const s of shapes) {
      for (const [tA, tB] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ] as [boolean, boolean][]) {
        it(`equal those on cpu for ${s.name} (transposeA=${tA}, transposeB=${tB})`, async () => {
          const rng = new Rng(`${s.name}/${tA}/${tB}`);
          const a = randomOperand([...s.batch, ...(tA ? [s.K, s.M] : [s.M, s.K])], rng);
          const b = randomOperand([...s.batch, ...(tB ? [s.N, s.K] : [s.K, s.N])], rng);
          const w = randomOperand([...s.batch, s.M, s.N], rng);
          const bias = s.fused ? randomOperand([s.N], rng) : undefined;
          await useBackend('cpu');
          const want = gradients(a, b, w, bias, tA, tB);
          await useBackend('wasm');
          const got = gradients(a, b, w, bias, tA, tB);
          expect(got.length).to.equal(want.length);
          for (let i = 0; i < got.length; i++)
            expect(maxAbsDiff(got[i], want[i]), `input ${i}`).to.be.below(1e-4);
        });
      }
    }
  });

import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src/core/rng.js';
import { useBackend } from '../helpers/backend.js';
import { FaceTransformer, resolveViTConfig } from '../../agents/vit/index.js';
import { fusedAttention, softmax } from '../../agents/vit/ops.js';
import { biasEpilogueExact, canFuse, FUSED, recordingGradients, setFusedKernel } from '../../src/native/fused.js';
import { nativeAddon, setNativeMatMul } from '../../src/native/index.js';
import { MICRO, images } from './fixtures.js';

/**
 * An inference pass (no tape records) takes shortcuts: the pixel head's bias rides in its product
 * (agents/vit/ops.ts, `pixelHead`) and attention runs as one fused kernel (agents/vit/block.ts,
 * `FprlAttention`). The logits must be the bits of the taped path, which runs the plain ops.
 */
describe('ViT inference pass: shortcuts outside a tape, the same bits', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`gives the logits of the taped path bit for bit (${backend})`, async () => {
      await useBackend(backend);
      const config = resolveViTConfig({ ...MICRO, imageSize: 32, patchSize: 8 });
      const model = new FaceTransformer(config, new Rng(11));
      const bias = model.classBias()!;
      bias.assign(tf.tensor1d(Array.from({ length: bias.size }, (_, i) => 0.37 * Math.sin(i + 1))));
      const x = images(3, 32, 5);
      expect(biasEpilogueExact(), 'the shortcut is taken here').to.equal(true);
      tf.tidy(() => model.apply(x).logits.dataSync()); // first calls may cache backend state
      const before = tf.memory().numTensors;
      const free = tf.tidy(() => model.apply(x).logits.dataSync());
      const kernels = (await tf.profile(() => tf.tidy(() => model.apply(x).logits.dataSync()))).kernelNames;
      // On wasm with the addon the fused kernel runs; elsewhere the plain ops (checked the same way).
      expect(kernels.includes(FUSED.attention), 'the fused attention ran').to.equal(canFuse(FUSED.attention));
      if (backend === 'wasm' && nativeAddon()) expect(canFuse(FUSED.attention)).to.equal(true);
      let taped: Float32Array | undefined;
      let recorded = false;
      tf.tidy(() => {
        tf.grad((input: tf.Tensor) => {
          recorded = recordingGradients();
          const { logits } = model.apply(input as tf.Tensor4D);
          taped = logits.dataSync() as Float32Array;
          return tf.sum(logits);
        })(x);
      });
      expect(recorded).to.equal(true);
      expect(recordingGradients()).to.equal(false);
      expect(tf.memory().numTensors).to.equal(before);
      const bad = free.findIndex((v, i) => !Object.is(v, taped![i]));
      expect(bad, `logit ${bad}: ${free[bad]} vs ${taped?.[bad]}`).to.equal(-1);
      x.dispose();
      model.dispose();
    });
  }

  it('keeps the plain ops where the fused product would round otherwise (wasm without the native matMul)', async () => {
    await useBackend('wasm');
    const was = setNativeMatMul(false);
    try {
      expect(biasEpilogueExact()).to.equal(false);
    } finally {
      setNativeMatMul(was);
    }
  });
});

describe('FprlAttention: multi-head attention from the qkv product, and its gradient', () => {
  /** The ops of agents/vit/block.ts's selfAttention (taped path), from qkv to the merged heads. */
  function reference(qkv: tf.Tensor2D, b: number, h: number): tf.Tensor2D {
    const [rows, width] = qkv.shape;
    const t = rows / b;
    const d = width / 3;
    const hd = d / h;
    const toHeads = (part: tf.Tensor) =>
      tf.reshape(tf.transpose(tf.reshape(part, [b, t, h, hd]), [0, 2, 1, 3]), [b * h, t, hd]);
    const [q, k, v] = tf.split(qkv, 3, 1).map(toHeads);
    const scores = tf.matMul(tf.mul(q, 1 / Math.sqrt(hd)), k, false, true);
    const ctx = tf.matMul(softmax(scores), v);
    return tf.reshape(tf.transpose(tf.reshape(ctx, [b, h, t, hd]), [0, 2, 1, 3]), [b * t, d]);
  }

  const shapes = [
    [2, 37, 3, 20],
    [1, 256, 3, 64],
    [3, 5, 1, 7],
    [1, 70, 2, 96],
  ];
  const sameBits = (got: ArrayLike<number>, want: ArrayLike<number>, what: string) => {
    expect(got.length, what).to.equal(want.length);
    let bad = -1;
    for (let i = 0; i < got.length && bad < 0; i++) if (!Object.is(got[i], want[i])) bad = i;
    expect(bad, `${what}: element ${bad}`).to.equal(-1);
  };

  it('gives the bits of the split, transposes, products and softmax, forward and backward', async function () {
    await useBackend('wasm');
    if (!canFuse(FUSED.attention)) this.skip();
    const rng = new Rng(21, 'attention');
    for (const [b, t, h, hd] of shapes) {
      const what = `b=${b} t=${t} h=${h} hd=${hd}`;
      tf.tidy(() => {
        const random = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-3, 3));
        const qkv = tf.tensor2d(random(b * t * 3 * h * hd), [b * t, 3 * h * hd]);
        const dy = tf.tensor2d(random(b * t * h * hd), [b * t, h * hd]);
        sameBits(
          fusedAttention(qkv, b, h, 1 / Math.sqrt(hd)).dataSync(),
          reference(qkv, b, h).dataSync(),
          `${what} forward`,
        );
        const loss = (f: (x: tf.Tensor2D) => tf.Tensor2D) => (x: tf.Tensor) =>
          tf.sum(tf.mul(f(x as tf.Tensor2D), dy));
        const fused = tf.grad(loss((x) => fusedAttention(x, b, h, 1 / Math.sqrt(hd))))(qkv);
        const ops = tf.grad(loss((x) => reference(x, b, h)))(qkv);
        sameBits(fused.dataSync(), ops.dataSync(), `${what} gradient`);
      });
    }
  });

  it('gives a whole ViT the gradients of the ops path, bit for bit, and leaks nothing', async function () {
    await useBackend('wasm');
    if (!canFuse(FUSED.attention)) this.skip();
    const model = new FaceTransformer(
      resolveViTConfig({ ...MICRO, imageSize: 32, patchSize: 8, heads: 2 }),
      new Rng(12),
    );
    const x = images(2, 32, 6);
    const grads = () =>
      tf.tidy(() => {
        const { grads: g } = tf.variableGrads(
          () => tf.sum(tf.square(model.apply(x).logits)),
          model.trainableVariables,
        );
        return Object.values(g).map((t) => t.dataSync());
      });
    grads();
    const before = tf.memory().numTensors;
    const fused = grads();
    expect(tf.memory().numTensors).to.equal(before);
    const was = setFusedKernel(FUSED.attention, false);
    let ops: ArrayLike<number>[];
    try {
      ops = grads();
    } finally {
      setFusedKernel(FUSED.attention, was);
    }
    expect(fused.length).to.equal(ops.length);
    fused.forEach((g, i) => sameBits(g, ops[i], `variable ${i}`));
    x.dispose();
    model.dispose();
  });

  it('refuses shapes that are not [batch*tokens, 3*heads*hd], and short outputs', function () {
    const addon = nativeAddon();
    if (!addon?.attention || !addon.attentionGrad) this.skip();
    const f = (n: number) => new Float32Array(n);
    expect(() => addon.attention!(f(2 * 4 * 9), f(2 * 4 * 3), null, 2, 4, 2, 1)).to.throw(/qkv is not/);
    expect(() => addon.attention!(f(2 * 4 * 6), f(7), null, 2, 4, 2, 1)).to.throw(/shorter/);
    expect(() => addon.attention!(f(2 * 4 * 6), f(16), f(31), 2, 4, 2, 1)).to.throw(/weights is shorter/);
    expect(() => addon.attention!(f(6), f(2), null, 1, 1, 0, 1)).to.throw(/heads/);
    expect(() => addon.attention!(f(2 * 4 * 6), f(16), null, 2, 4, 2, 'x' as unknown as number)).to.throw(
      /scale/,
    );
    expect(() => addon.attentionGrad!(f(2 * 4 * 6), f(64), f(16), f(47), 2, 4, 2, 1)).to.throw(/shorter/);
    expect(() => addon.attentionGrad!(f(2 * 4 * 9), f(64), f(16), f(72), 2, 4, 2, 1)).to.throw(/qkv is not/);
  });
});

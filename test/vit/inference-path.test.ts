import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src/core/rng.js';
import { useBackend } from '../helpers/backend.js';
import { FaceTransformer, resolveViTConfig } from '../../agents/vit/index.js';
import { recordingGradients } from '../../agents/vit/ops.js';
import { biasEpilogueExact, canFuse, FUSED } from '../../src/native/fused.js';
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

describe('FprlAttention: the fused inference attention kernel', () => {
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
    const weights = tf.engine().runKernel(FUSED.softmax, { x: scores }, {}) as tf.Tensor3D;
    const ctx = tf.matMul(weights, v);
    return tf.reshape(tf.transpose(tf.reshape(ctx, [b, h, t, hd]), [0, 2, 1, 3]), [b * t, d]);
  }

  it('gives the bits of the split, transposes, products and softmax for every shape tried', async function () {
    await useBackend('wasm');
    if (!canFuse(FUSED.attention)) this.skip();
    const rng = new Rng(21, 'attention');
    for (const [b, t, h, hd] of [
      [2, 37, 3, 20],
      [1, 256, 3, 64],
      [3, 5, 1, 7],
      [1, 70, 2, 96],
    ]) {
      tf.tidy(() => {
        const qkv = tf.tensor2d(
          Float32Array.from({ length: b * t * 3 * h * hd }, () => rng.uniform(-3, 3)),
          [b * t, 3 * h * hd],
        );
        const got = (
          tf
            .engine()
            .runKernel(
              FUSED.attention,
              { qkv },
              { batch: b, heads: h, scale: Math.fround(1 / Math.sqrt(hd)) },
            ) as tf.Tensor
        ).dataSync();
        const want = reference(qkv, b, h).dataSync();
        expect(got.length).to.equal(want.length);
        const bad = got.findIndex((v, i) => !Object.is(v, want[i]));
        expect(bad, `b=${b} t=${t} h=${h} hd=${hd}: element ${bad}`).to.equal(-1);
      });
    }
  });

  it('refuses shapes that are not [batch*tokens, 3*heads*hd], and short outputs', function () {
    const addon = nativeAddon();
    if (!addon?.attention) this.skip();
    expect(() =>
      addon.attention!(new Float32Array(2 * 4 * 9), new Float32Array(2 * 4 * 3), 2, 4, 2, 1),
    ).to.throw(/qkv is not/);
    expect(() => addon.attention!(new Float32Array(2 * 4 * 6), new Float32Array(7), 2, 4, 2, 1)).to.throw(
      /shorter/,
    );
    expect(() => addon.attention!(new Float32Array(6), new Float32Array(2), 1, 1, 0, 1)).to.throw(/heads/);
  });
});

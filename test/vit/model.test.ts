import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { FprlError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { leakedTensors, useBackend } from '../helpers/backend.js';
import { setFastWasmKernels } from '../../src/wasm/kernels.js';
import { FaceTransformer, paramSpecs, resolveViTConfig } from '../../agents/vit/index.js';
import { MICRO, crossEntropy, images, labels, maxAbsDiff } from './fixtures.js';

/** One Adam step on cross-entropy; returns the loss before the step. */
function trainStep(
  model: FaceTransformer,
  opt: tf.Optimizer,
  x: tf.Tensor4D,
  y: tf.Tensor3D,
  rng?: Rng,
): number {
  const loss = opt.minimize(
    () => crossEntropy(model.apply(x, { training: rng !== undefined, rng }).logits, y),
    true,
    model.trainableVariables,
  ) as tf.Scalar;
  const v = loss.dataSync()[0];
  loss.dispose();
  return v;
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`FaceTransformer on ${backend}`, () => {
    before(() => useBackend(backend));

    it('maps tiny-64 images [2,64,64,3] to logits [2,64,64,11] and pooled [2,64]', () => {
      const model = new FaceTransformer(resolveViTConfig('tiny-64'), new Rng(0));
      const x = images(2, 64);
      const { logits, pooled } = model.apply(x);
      expect(logits.shape).to.deep.equal([2, 64, 64, 11]);
      expect(pooled.shape).to.deep.equal([2, 64]);
      expect(tf.tidy(() => tf.all(tf.isFinite(logits)).dataSync()[0])).to.equal(1);
      tf.dispose([x, logits, pooled]);
      model.dispose();
    });

    for (const [normFirst, extra] of [
      [true, {}],
      [false, {}],
      [true, { mlpActivation: 'gelu', layerNormEps: 1e-6 }],
    ] as const) {
      const what = `${normFirst ? 'pre' : 'post'}-norm tiny-64${'mlpActivation' in extra ? ', GELU, eps 1e-6' : ''}`;
      it(`gives every variable a non-zero gradient (${what})`, () => {
        const model = new FaceTransformer(
          resolveViTConfig({ preset: 'tiny-64', normFirst, ...extra }),
          new Rng(1),
        );
        const x = images(2, 64);
        const y = labels(2, 64, 11);
        const { value, grads } = tf.variableGrads(
          () => crossEntropy(model.apply(x).logits, y),
          model.trainableVariables,
        );
        const names = model.namedVariables.map((n) => n.name);
        const zero = model.namedVariables
          .filter((n) => !(tf.tidy(() => tf.max(tf.abs(grads[n.variable.name]))).dataSync()[0] > 0))
          .map((n) => n.name);
        expect(Object.keys(grads)).to.have.length(names.length);
        expect(zero, 'variables with an all-zero gradient').to.deep.equal([]);
        tf.dispose([value, x, y, ...Object.values(grads)]);
        model.dispose();
      });
    }

    it('lowers the cross-entropy of a fixed batch with one Adam step', () => {
      const model = new FaceTransformer(MICRO, new Rng(2));
      const opt = tf.train.adam(1e-3);
      const x = images(2, 16);
      const y = labels(2, 16, 11);
      const before = trainStep(model, opt, x, y);
      const after = tf.tidy(() => crossEntropy(model.apply(x).logits, y).dataSync()[0]);
      expect(after).to.be.below(before);
      tf.dispose([x, y]);
      opt.dispose();
      model.dispose();
    });

    it('leaks no tensors in apply, predict or a training step with dropout', async () => {
      const model = new FaceTransformer(resolveViTConfig({ ...MICRO, embDropout: 0.1 }), new Rng(3));
      const opt = tf.train.adam(1e-3);
      const x = images(2, 16);
      const y = labels(2, 16, 11);
      const rng = new Rng(4);
      trainStep(model, opt, x, y, rng); // creates Adam's slot variables once
      expect(await leakedTensors(() => trainStep(model, opt, x, y, rng))).to.equal(0);
      expect(await leakedTensors(() => model.predict(x))).to.equal(0);
      expect(
        await leakedTensors(() => tf.dispose(Object.values(model.apply(x, { training: true, rng })))),
      ).to.equal(0);
      tf.dispose([x, y]);
      opt.dispose();
      model.dispose();
    });

    it('is deterministic for the same dropout rng and stochastic across seeds; no dropout at inference', () => {
      const model = new FaceTransformer(
        resolveViTConfig({ ...MICRO, dropout: 0.3, embDropout: 0.2 }),
        new Rng(5),
      );
      const x = images(1, 16);
      const run = (opts: { training?: boolean; rng?: Rng }) => {
        const { logits, pooled } = model.apply(x, opts);
        pooled.dispose();
        return logits;
      };
      const [a, b, c] = [
        run({ training: true, rng: new Rng(7) }),
        run({ training: true, rng: new Rng(7) }),
        run({ training: true, rng: new Rng(8) }),
      ];
      const [e1, e2] = [run({}), run({ training: false, rng: new Rng(7) })];
      expect(maxAbsDiff(a, b)).to.equal(0);
      expect(maxAbsDiff(a, c)).to.be.above(1e-3);
      expect(maxAbsDiff(e1, e2)).to.equal(0);
      expect(maxAbsDiff(a, e1)).to.be.above(1e-3);
      tf.dispose([a, b, c, e1, e2, x]);
      model.dispose();
    });

    it('refuses to train with dropout without an rng, and refuses images of the wrong size', () => {
      const model = new FaceTransformer(MICRO, new Rng(6));
      const x = images(1, 16);
      const wrong = images(1, 32);
      expect(() => model.apply(x, { training: true })).to.throw(FprlError, /needs an rng/);
      expect(() => model.apply(wrong)).to.throw(FprlError, /\[1,32,32,3\], expected \[B,16,16,3\]/);
      tf.dispose([x, wrong]);
      model.dispose();
    });

    it('predicts the per-pixel argmax of the logits, the same in one batch or in chunks', () => {
      const model = new FaceTransformer(MICRO, new Rng(7));
      const x = images(3, 16);
      const want = tf.tidy(() => tf.argMax(model.apply(x).logits, -1).dataSync() as Int32Array);
      const got = model.predict(x);
      expect(got).to.be.instanceOf(Int32Array);
      expect(got.length).to.equal(3 * 16 * 16);
      expect(Array.from(got)).to.deep.equal(Array.from(want));
      expect(Array.from(model.predict(x, { batchSize: 2 }))).to.deep.equal(Array.from(want));
      x.dispose();
      model.dispose();
    });
  });
}

describe('FaceTransformer at full size (wasm)', () => {
  before(() => useBackend('wasm'));

  for (const preset of ['ti16-256', 'seed']) {
    it(`maps one ${preset} image [1,256,256,3] to logits [1,256,256,11]`, () => {
      const model = new FaceTransformer(resolveViTConfig(preset), new Rng(0));
      const x = images(1, 256);
      const { logits, pooled } = model.apply(x);
      expect(logits.shape).to.deep.equal([1, 256, 256, 11]);
      expect(pooled.shape).to.deep.equal([1, model.config.dim]);
      tf.dispose([x, logits, pooled]);
      model.dispose();
    });
  }
});

describe('FaceTransformer across backends', () => {
  /** Loss and every gradient of one fixed batch, as plain arrays, on the current backend. */
  function lossAndGrads(config: typeof MICRO): { loss: number; grads: Float32Array[] } {
    const model = new FaceTransformer(config, new Rng(9));
    const x = images(2, config.imageSize);
    const y = labels(2, config.imageSize, 11);
    const { value, grads } = tf.variableGrads(
      () => crossEntropy(model.apply(x).logits, y),
      model.trainableVariables,
    );
    const out = {
      loss: value.dataSync()[0],
      grads: model.trainableVariables.map((v) => grads[v.name].dataSync() as Float32Array),
    };
    tf.dispose([value, x, y, ...Object.values(grads)]);
    model.dispose();
    return out;
  }

  function expectClose(
    got: { loss: number; grads: Float32Array[] },
    want: { loss: number; grads: Float32Array[] },
  ) {
    expect(got.loss).to.be.closeTo(want.loss, 1e-4);
    got.grads.forEach((g, i) => {
      const scale = Math.max(...want.grads[i].map(Math.abs));
      const diff = Math.max(...g.map((v, j) => Math.abs(v - want.grads[i][j])));
      expect(diff, `gradient ${MICRO_NAMES[i]}`).to.be.at.most(1e-3 * scale + 1e-6);
    });
  }

  const config = resolveViTConfig({ ...MICRO, normFirst: false });
  const MICRO_NAMES = paramSpecs(config).map((p) => p.name);

  it('gives the same loss and gradients on wasm (fast and stock kernels) as on cpu', async () => {
    await useBackend('cpu');
    const cpu = lossAndGrads(config);
    await useBackend('wasm');
    expectClose(lossAndGrads(config), cpu);
    const wasFast = setFastWasmKernels(false);
    try {
      expectClose(lossAndGrads(config), cpu);
    } finally {
      setFastWasmKernels(wasFast);
    }
  });
});

import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FprlError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { leakedTensors, useBackend } from '../helpers/backend.js';
import { setFastWasmKernels } from '../../src/wasm/kernels.js';
import {
  FaceTransformer,
  HybridFaceTransformer,
  MODEL_PRESET_NAMES,
  hybridFlops,
  hybridParamSpecs,
  resolveHybridConfig,
  resolveModelPreset,
  resolveViTConfig,
  validateHybridConfig,
  vitFlops,
  type HybridConfig,
} from '../../agents/vit/index.js';
import { channelNorm, upsample2x } from '../../agents/vit/conv-ops.js';
import { buildPolicyNet } from '../../agents/nets/registry.js';
import { createAgent } from '../../agents/registry.js';
import type { PolicyAgent } from '../../agents/policy-agent.js';
import { DataParallel } from '../../src/parallel/index.js';
import { crossEntropy, images, labels, maxAbsDiff, TINY_HYBRID } from './fixtures.js';

const TINY: HybridConfig = TINY_HYBRID;
const NAMES = hybridParamSpecs(TINY).map((s) => s.name);

/** Loss and every gradient of one fixed batch on the current backend, as plain arrays. */
function lossAndGrads(config: HybridConfig, seed = 9): { loss: number; grads: Float32Array[] } {
  const model = new HybridFaceTransformer(config, new Rng(seed));
  const x = images(2, config.imageSize);
  const y = labels(2, config.imageSize, 11);
  const { value, grads } = tf.variableGrads(
    () => crossEntropy(model.apply(x).logits, y),
    model.trainableVariables,
  );
  const out = {
    loss: value.dataSync()[0],
    grads: model.trainableVariables.map((v) => Float32Array.from(grads[v.name].dataSync() as Float32Array)),
  };
  tf.dispose([value, x, y, ...Object.values(grads)]);
  model.dispose();
  return out;
}

function weightsOf(model: { trainableVariables: tf.Variable[] }): Float32Array[] {
  return model.trainableVariables.map((v) => Float32Array.from(v.dataSync() as Float32Array));
}

function sameBits(a: Float32Array[], b: Float32Array[]): boolean {
  return a.length === b.length && a.every((w, i) => Buffer.from(w.buffer).equals(Buffer.from(b[i].buffer)));
}

describe('hybrid Face Transformer: config, presets, FLOPs', () => {
  it('has the documented parameter counts and forward FLOPs per preset', () => {
    const counts = (c: HybridConfig) =>
      hybridParamSpecs(c).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
    const h128 = resolveHybridConfig('hybrid-128');
    const h256 = resolveHybridConfig('hybrid-256');
    expect(counts(h128)).to.equal(3_386_411);
    expect(counts(h256)).to.equal(3_423_275);
    expect(hybridFlops(h128)).to.equal(1_266_417_664);
    expect(hybridFlops(h256)).to.equal(5_292_163_072);
    // The ViT presets, for the same table.
    expect(vitFlops(resolveViTConfig('ti16-256'))).to.equal(2_032_140_288);
  });

  it('counts FLOPs as 2 x the multiply-adds of the layers it lists (a hand count of TINY)', () => {
    const stem = 8 * 8 * 9 * 3 * 4 + 4 * 4 * 9 * 4 * 8;
    const embed = 4 * 2 * 2 * 8 * 16;
    const block = 4 * 16 * 48 + 2 * 4 * 4 * 16 + 4 * 16 * 16 + 2 * 4 * 16 * 32;
    const decoder = 4 * 4 * 9 * (16 + 8) * 8 + 8 * 8 * 9 * (8 + 4) * 8 + 16 * 16 * 9 * (8 + 3) * 4;
    const head = 16 * 16 * 4 * 11;
    expect(hybridFlops(TINY)).to.equal(2 * (stem + embed + block + decoder + head));
  });

  it('refuses an unknown preset listing the names, and an image size that is not a multiple of the stride', () => {
    expect(() => resolveHybridConfig('hybrid-99')).to.throw(FprlError, /unknown hybrid preset/);
    expect(() => resolveModelPreset('nope')).to.throw(FprlError, /unknown model preset 'nope'/);
    try {
      resolveModelPreset('nope');
    } catch (e) {
      expect((e as FprlError).hint).to.include('seed, ti16-256, tiny-64, hybrid-128, hybrid-256');
    }
    expect(MODEL_PRESET_NAMES).to.include.members(['hybrid-128', 'hybrid-256', 'ti16-256']);
    let err: FprlError | undefined;
    try {
      resolveModelPreset({ preset: 'hybrid-128', imageSize: 100 });
    } catch (e) {
      err = e as FprlError;
    }
    expect(err?.message).to.equal('imageSize 100 is not a multiple of 16');
    expect(err?.hint).to.match(/sizes 16, 32, \.\.\. \(e\.g\. 96 or 112\)/);
    expect(() => resolveHybridConfig({ preset: 'hybrid-128', decoderChannels: [8] })).to.throw(
      FprlError,
      /decoderChannels has 1 stages but the encoder downsamples 4 times/,
    );
    expect(() => resolveHybridConfig({ preset: 'hybrid-128', kernel: 3 } as never)).to.throw(
      FprlError,
      /unknown field 'kernel'/,
    );
  });

  it('resolves every preset name to its kind; the ViT presets resolve as before', () => {
    expect(resolveModelPreset('hybrid-256').kind).to.equal('hybrid');
    const ti = resolveModelPreset('ti16-256');
    expect(ti.kind).to.equal('vit');
    expect(ti.config).to.deep.equal(resolveViTConfig('ti16-256'));
    expect(resolveModelPreset({ preset: 'hybrid-128', imageSize: 64 }).imageSize).to.equal(64);
  });
});

describe('hybrid Face Transformer: conv ops', () => {
  before(() => useBackend('cpu'));

  it('upsamples x2 by nearest neighbour, as PyTorch F.interpolate(mode=nearest)', () => {
    const x = tf.tensor4d([1, 10, 2, 20, 3, 30, 4, 40], [1, 2, 2, 2]);
    const up = upsample2x(x);
    expect(up.shape).to.deep.equal([1, 4, 4, 2]);
    const ch0 = tf.tidy(() => tf.squeeze(tf.slice(up, [0, 0, 0, 0], [1, 4, 4, 1])).arraySync());
    expect(ch0).to.deep.equal([
      [1, 1, 2, 2],
      [1, 1, 2, 2],
      [3, 3, 4, 4],
      [3, 3, 4, 4],
    ]);
    tf.dispose([x, up]);
  });

  it('normalises each pixel over its channels', () => {
    const x = images(1, 4);
    const y = channelNorm(x, tf.ones([3]) as tf.Tensor1D, tf.zeros([3]) as tf.Tensor1D);
    const m = tf.tidy(() => tf.max(tf.abs(tf.mean(y, -1))).dataSync()[0]);
    expect(m).to.be.below(1e-5);
    tf.dispose([x, y]);
  });
});

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`hybrid Face Transformer on ${backend}`, () => {
    before(() => useBackend(backend));

    it('maps images [2,16,16,3] to logits [2,16,16,11] and pooled [2,16], finite', () => {
      const model = new HybridFaceTransformer(TINY, new Rng(0));
      const x = images(2, 16);
      const { logits, pooled } = model.apply(x);
      expect(logits.shape).to.deep.equal([2, 16, 16, 11]);
      expect(pooled.shape).to.deep.equal([2, 16]);
      expect(tf.tidy(() => tf.all(tf.isFinite(logits)).dataSync()[0])).to.equal(1);
      tf.dispose([x, logits, pooled]);
      model.dispose();
    });

    it('gives every variable a non-zero gradient', () => {
      const { grads } = lossAndGrads(TINY);
      expect(grads).to.have.length(NAMES.length);
      const zero = NAMES.filter((_, i) => !grads[i].some((g) => g !== 0));
      expect(zero, 'variables with an all-zero gradient').to.deep.equal([]);
    });

    it('leaks no tensors in a training step with dropout, in apply or in predict', async () => {
      const model = new HybridFaceTransformer({ ...TINY, dropout: 0.1, embDropout: 0.1 }, new Rng(3));
      const opt = tf.train.adam(1e-3);
      const x = images(2, 16);
      const y = labels(2, 16, 11);
      const rng = new Rng(4);
      const step = () =>
        tf.dispose(
          opt.minimize(
            () => crossEntropy(model.apply(x, { training: true, rng }).logits, y),
            true,
            model.trainableVariables,
          ) ?? [],
        );
      step(); // creates Adam's slots once
      expect(await leakedTensors(step)).to.equal(0);
      expect(await leakedTensors(() => model.predict(x, { batchSize: 1 }))).to.equal(0);
      expect(await leakedTensors(() => tf.dispose(Object.values(model.apply(x))))).to.equal(0);
      tf.dispose([x, y]);
      opt.dispose();
      model.dispose();
    });

    it('lowers the cross-entropy of a fixed batch over a few Adam steps', () => {
      const model = new HybridFaceTransformer(TINY, new Rng(2));
      const opt = tf.train.adam(1e-2);
      const x = images(2, 16);
      // A learnable target: the label follows the signs of the pixel's first two channels.
      const y = tf.tidy(() => {
        const [r, g] = tf.split(tf.cast(tf.greater(x, 0), 'int32'), 3, 3);
        return tf.cast(tf.reshape(tf.add(r, tf.mul(g, 2)), [2, 16, 16]), 'int32') as tf.Tensor3D;
      });
      const losses: number[] = [];
      for (let i = 0; i < 10; i++) {
        const loss = opt.minimize(
          () => crossEntropy(model.apply(x).logits, y),
          true,
          model.trainableVariables,
        ) as tf.Scalar;
        losses.push(loss.dataSync()[0]);
        loss.dispose();
      }
      expect(losses.at(-1)).to.be.below(losses[0] - 0.3);
      tf.dispose([x, y]);
      opt.dispose();
      model.dispose();
    });

    it('predicts the argmax of the logits, in one batch or in chunks; refuses a wrong size naming it', () => {
      const model = new HybridFaceTransformer(TINY, new Rng(7));
      const x = images(3, 16);
      const want = tf.tidy(() => Array.from(tf.argMax(model.apply(x).logits, -1).dataSync()));
      expect(Array.from(model.predict(x))).to.deep.equal(want);
      expect(Array.from(model.predict(x, { batchSize: 2 }))).to.deep.equal(want);
      const wrong = images(1, 20);
      expect(() => model.apply(wrong)).to.throw(FprlError, /\[1,20,20,3\], expected \[B,16,16,3\]/);
      tf.dispose([x, wrong]);
      model.dispose();
    });
  });
}

describe('hybrid Face Transformer across backends', () => {
  after(() => useBackend('cpu'));

  it('gives the same loss and gradients on wasm (fast and stock kernels) as on cpu', async () => {
    await useBackend('cpu');
    const cpu = lossAndGrads(TINY);
    await useBackend('wasm');
    const check = (got: typeof cpu) => {
      expect(got.loss).to.be.closeTo(cpu.loss, 1e-4);
      got.grads.forEach((g, i) => {
        const scale = Math.max(...cpu.grads[i].map(Math.abs));
        const diff = Math.max(...g.map((v, j) => Math.abs(v - cpu.grads[i][j])));
        expect(diff, `gradient of ${NAMES[i]}`).to.be.at.most(1e-3 * scale + 1e-6);
      });
    };
    check(lossAndGrads(TINY));
    const was = setFastWasmKernels(false);
    try {
      check(lossAndGrads(TINY));
    } finally {
      setFastWasmKernels(was);
    }
  });

  it('maps one hybrid-128 image to logits [1,128,128,11] on wasm', async () => {
    await useBackend('wasm');
    const model = new HybridFaceTransformer(resolveHybridConfig('hybrid-128'), new Rng(0));
    const x = images(1, 128);
    const { logits, pooled } = model.apply(x);
    expect(logits.shape).to.deep.equal([1, 128, 128, 11]);
    expect(pooled.shape).to.deep.equal([1, 192]);
    tf.dispose([x, logits, pooled]);
    model.dispose();
  });
});

describe('hybrid Face Transformer: weights, checkpoints, replicas', () => {
  let dir: string;
  before(async () => {
    await useBackend('cpu');
    dir = await mkdtemp(path.join(os.tmpdir(), 'fprl-hybrid-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('draws the same weights from the same seed, other weights from another', () => {
    const [a, b, c] = [1, 1, 2].map((s) => new HybridFaceTransformer(TINY, new Rng(s)));
    expect(sameBits(weightsOf(a), weightsOf(b))).to.equal(true);
    expect(sameBits(weightsOf(a), weightsOf(c))).to.equal(false);
    [a, b, c].forEach((m) => m.dispose());
  });

  it("draws the PyTorch twin's defaults with init 'pytorch' and the ViT scheme with init 'vit'", () => {
    const values = (init: 'pytorch' | 'vit') => {
      const model = new HybridFaceTransformer({ ...TINY, init }, new Rng(4));
      const out = new Map(NAMES.map((n, i) => [n, weightsOf(model)[i]]));
      model.dispose();
      return out;
    };
    const torch = values('pytorch');
    const vit = values('vit');
    const bound = (x: Float32Array) => Math.max(...Array.from(x, Math.abs));
    const cd = TINY.decoderChannels[TINY.decoderChannels.length - 1];
    // PyTorch: positions 0; head, MLP and patch-embedding biases U(+-1/sqrt(fan_in)), not 0.
    expect(bound(torch.get('pos_embed')!)).to.equal(0);
    for (const [name, fanIn] of [
      ['head/kernel', cd],
      ['head/bias', cd],
      ['blocks/0/mlp/fc1/bias', TINY.dim],
      ['blocks/0/mlp/fc2/bias', TINY.mlpDim],
      ['blocks/0/attn/out/kernel', TINY.dim],
    ] as const) {
      expect(bound(torch.get(name)!), name).to.be.within(0.5 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn));
    }
    expect(bound(torch.get('blocks/0/attn/qkv/bias')!)).to.equal(0);
    // ViT scheme: zero biases, small positions and head; the convs are drawn alike in both.
    expect(bound(vit.get('head/bias')!)).to.equal(0);
    expect(bound(vit.get('blocks/0/mlp/fc2/bias')!)).to.equal(0);
    expect(bound(vit.get('pos_embed')!)).to.be.within(0.001, 0.04);
    expect(bound(vit.get('head/kernel')!)).to.be.below(0.05);
    expect(Buffer.from(torch.get('stem/0/conv/kernel')!.buffer).equals(Buffer.from(vit.get('stem/0/conv/kernel')!.buffer))).to.equal(true);
    // A checkpoint's config without the field was drawn with the ViT scheme; a bad value is refused.
    const { init: _default, ...old } = resolveHybridConfig('hybrid-128');
    expect(resolveHybridConfig('hybrid-128').init).to.equal('pytorch');
    expect(validateHybridConfig(old as HybridConfig).init).to.equal('vit');
    expect(() => resolveHybridConfig({ preset: 'hybrid-128', init: 'he' as never })).to.throw(
      FprlError,
      /init must be one of pytorch, vit, got "he"/,
    );
  });

  it('saves and loads bit-identically (kind hybrid in model.json, documented names in order)', async () => {
    const model = new HybridFaceTransformer(TINY, new Rng(5));
    await model.save(dir);
    const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
    expect(json.format).to.equal('fprl-face-transformer');
    expect(json.userDefinedMetadata.kind).to.equal('hybrid');
    expect(json.weightsManifest[0].weights.map((w: { name: string }) => w.name)).to.deep.equal(NAMES);
    const loaded = await HybridFaceTransformer.load(dir);
    expect(loaded.config).to.deep.equal(model.config);
    expect(sameBits(weightsOf(loaded), weightsOf(model))).to.equal(true);
    const x = images(1, 16);
    const [a, b] = [model, loaded].map((m) => m.apply(x).logits);
    expect(maxAbsDiff(a, b)).to.equal(0);
    const other = new HybridFaceTransformer(TINY, new Rng(6));
    expect(await leakedTensors(() => other.loadWeightsFrom(dir))).to.equal(0);
    expect(sameBits(weightsOf(other), weightsOf(model))).to.equal(true);
    tf.dispose([x, a, b]);
    [model, loaded, other].forEach((m) => m.dispose());
  });

  it('refuses a checkpoint of another kind or architecture, naming it', async () => {
    const model = new HybridFaceTransformer(TINY, new Rng(5));
    await model.save(dir);
    const failure = (p: Promise<unknown>) =>
      p.then(
        () => '',
        (e: Error) => e.message,
      );
    expect(await failure(FaceTransformer.load(dir))).to.match(/holds a 'hybrid' network, not a 'vit' one/);
    const wider = new HybridFaceTransformer({ ...TINY, decoderChannels: [8, 8, 8] }, new Rng(5));
    expect(await failure(wider.loadWeightsFrom(dir))).to.match(/decoder\/2\/conv\/kernel/);
    model.dispose();
    wider.dispose();
  });

  it('builds a replica through the registry from architecture(), with the same variable shapes', () => {
    const model = new HybridFaceTransformer(TINY, new Rng(5));
    const arch = model.architecture();
    expect(arch.kind).to.equal('hybrid');
    const replica = buildPolicyNet(JSON.parse(JSON.stringify(arch)), new Rng(0, 'replica'));
    expect(replica.trainableVariables.map((v) => v.shape)).to.deep.equal(
      model.trainableVariables.map((v) => v.shape),
    );
    expect(replica.numClasses).to.equal(11);
    replica.dispose();
    model.dispose();
  });
});

describe('hybrid Face Transformer data-parallel (wasm)', function () {
  this.timeout(120_000);
  before(() => useBackend('wasm'));
  after(() => useBackend('cpu'));

  /** Two supervised SGD updates on 4 images; the loss records and the weights after. */
  async function trainTwice(threads: number) {
    const policy = new HybridFaceTransformer(TINY, new Rng(3, 'model'));
    const agent = createAgent({ kind: 'supervised' }, policy, {
      rng: new Rng(3, 'agent'),
      // SGD: the update is linear in the gradient (see test/parallel/data-parallel.test.ts).
      training: { optimizer: { name: 'sgd', lr: 0.1 } } as never,
    }) as PolicyAgent;
    const pool = threads > 1 ? await DataParallel.create(policy, threads) : undefined;
    agent.useParallel(pool);
    const losses: Record<string, number>[] = [];
    try {
      for (const seed of [1, 2]) {
        const x = images(4, 16, seed);
        const y = labels(4, 16, 11, seed + 10);
        const target = Int32Array.from(y.dataSync() as Int32Array);
        y.dispose();
        try {
          const exp = { observation: { images: x, ids: ['a', 'b', 'c', 'd'] }, target };
          losses.push((await agent.learn(exp as never)) as Record<string, number>);
        } finally {
          x.dispose();
        }
      }
      return { losses, weights: weightsOf(policy) };
    } finally {
      agent.useParallel(undefined);
      await pool?.dispose();
      agent.dispose();
    }
  }

  it('trains on 2 threads to the weights of 1 thread', async () => {
    const one = await trainTwice(1);
    const two = await trainTwice(2);
    for (let s = 0; s < 2; s++)
      for (const [k, v] of Object.entries(one.losses[s]))
        expect(two.losses[s][k], k).to.be.closeTo(v, 1e-5 * Math.max(1, Math.abs(v)));
    one.weights.forEach((w, i) => {
      const scale = Math.max(1, ...Array.from(w, Math.abs));
      let worst = 0;
      for (let j = 0; j < w.length; j++) worst = Math.max(worst, Math.abs(w[j] - two.weights[i][j]));
      expect(worst / scale, NAMES[i]).to.be.below(1e-5);
    });
    const fresh = new HybridFaceTransformer(TINY, new Rng(3, 'model'));
    expect(sameBits(one.weights, weightsOf(fresh)), 'the updates moved the weights').to.equal(false);
    fresh.dispose();
  });
});

import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { leakedTensors, useBackend } from '../helpers/backend.js';
import { Adam, Sgd, createOptimizer } from '../../src/optim/optimizers.js';
import { learningRate, linearDecay } from '../../src/optim/schedule.js';
import { resolveTrainingConfig, totalSteps, type OptimizerConfig } from '../../src/optim/config.js';
import { readTensors, writeTensors } from '../../src/optim/tensor-io.js';
import { clipByGlobalNorm, globalNorm } from '../../src/optim/grad.js';
import { FprlError } from '../../src/core/errors.js';

const opt = (o: Partial<OptimizerConfig>): OptimizerConfig =>
  resolveTrainingConfig({ optimizer: o }).optimizer;

/** Gradients of f(w) = sum(c * w^2) at w: 2 c w. */
function quadGrad(w: tf.Variable, c: tf.Tensor): tf.Tensor {
  return tf.tidy(() => w.mul(c).mul(2));
}

describe('optimisers', () => {
  before(() => useBackend('cpu'));

  it('Adam matches tf.train.adam step for step', () => {
    const c = tf.tensor2d([
      [1, 2],
      [3, 0.5],
    ]);
    const a = tf.variable(
      tf.tensor2d([
        [1, -1],
        [0.5, 2],
      ]),
    );
    const b = tf.variable(
      tf.tensor2d([
        [1, -1],
        [0.5, 2],
      ]),
    );
    const ours = new Adam(opt({ lr: 0.1, betas: [0.8, 0.95], eps: 1e-8 }));
    const ref = tf.train.adam(0.1, 0.8, 0.95, 1e-8);
    for (let i = 0; i < 5; i++) {
      const g = quadGrad(a, c);
      ours.apply([a], [g], 0.1);
      g.dispose();
      const gb = quadGrad(b, c);
      ref.applyGradients([{ name: b.name, tensor: gb }]);
      gb.dispose();
    }
    const diff = tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);
    expect(diff).to.be.lessThan(1e-6);
    ours.dispose();
    ref.dispose();
    tf.dispose([a, b, c]);
  });

  it('AdamW decays weights decoupled from the gradient, and only matrices', () => {
    const w = tf.variable(tf.tensor2d([[2]]));
    const bias = tf.variable(tf.tensor1d([2]));
    const o = new Adam(opt({ name: 'adamw', lr: 0.1, weightDecay: 0.5 }));
    const zero = [tf.zeros([1, 1]), tf.zeros([1])];
    o.apply([w, bias], zero, 0.1);
    // Zero gradient: Adam's step is 0, the decay is lr * wd * w = 0.1 * 0.5 * 2.
    expect(w.dataSync()[0]).to.be.closeTo(1.9, 1e-6);
    expect(bias.dataSync()[0]).to.equal(2);
    o.dispose();
    tf.dispose([w, bias, ...zero]);
  });

  it('SGD with momentum follows buf = mu * buf + g, w -= lr * buf (and Nesterov)', () => {
    const w = tf.variable(tf.scalar(1));
    const o = new Sgd(opt({ name: 'sgd', lr: 0.1, momentum: 0.9 }));
    const g = tf.scalar(1);
    o.apply([w], [g], 0.1); // buf 1, w 0.9
    o.apply([w], [g], 0.1); // buf 1.9, w 0.71
    expect(w.dataSync()[0]).to.be.closeTo(0.71, 1e-6);
    const n = new Sgd(opt({ name: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true }));
    const v = tf.variable(tf.scalar(1));
    n.apply([v], [g], 0.1); // buf 1, step g + mu buf = 1.9
    expect(v.dataSync()[0]).to.be.closeTo(0.81, 1e-6);
    [o, n].forEach((x) => x.dispose());
    tf.dispose([w, v, g]);
  });

  it('saves and restores its state so the next step is identical, without leaking tensors', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fprl-opt-'));
    try {
      const c = tf.tensor1d([1, 2, 3]);
      const a = tf.variable(tf.tensor1d([1, -1, 2]));
      const o1 = createOptimizer(opt({ lr: 0.05 }));
      const step = (o: Adam | Sgd | ReturnType<typeof createOptimizer>, v: tf.Variable) => {
        const g = quadGrad(v, c);
        o.apply([v], [g], 0.05);
        g.dispose();
      };
      step(o1, a);
      step(o1, a);
      await writeTensors(dir, 'opt', o1.getState([a]).slots);
      const b = tf.variable(a.clone());
      const o2 = createOptimizer(opt({ lr: 0.05 }));
      o2.setState([b], { iterations: o1.iterations, slots: await readTensors(dir, 'opt') });
      const leaked = await leakedTensors(() => {
        step(o1, a);
        step(o2, b);
      });
      expect(leaked).to.equal(0);
      expect(Array.from(b.dataSync())).to.deep.equal(Array.from(a.dataSync()));
      const wrong = tf.variable(tf.zeros([4]));
      expect(() =>
        o2.setState([wrong], {
          iterations: 1,
          slots: o1.getState([a]).slots.map((s) => ({ ...s, tensor: s.tensor.clone() })),
        }),
      ).to.throw(FprlError, /shape \[3\] in the checkpoint but \[4\]/);
      [o1, o2].forEach((o) => o.dispose());
      tf.dispose([a, b, c, wrong]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('clips gradients to a global norm', () => {
    const g = [tf.tensor1d([3, 0]), tf.tensor1d([4])];
    expect(globalNorm(g)).to.be.closeTo(5, 1e-6);
    const r = clipByGlobalNorm(g, 1);
    expect(r.norm).to.be.closeTo(5, 1e-6);
    expect(r.clipped).to.equal(true);
    expect(globalNorm(r.grads)).to.be.closeTo(1, 1e-6);
    const same = clipByGlobalNorm(r.grads, 0);
    expect(same.clipped).to.equal(false);
    tf.dispose(same.grads);
  });
});

describe('learning-rate schedules', () => {
  const s = (name: 'none' | 'warmup' | 'cosine', warmupSteps = 0, minLrRatio = 0) => ({
    name,
    warmupSteps,
    minLrRatio,
  });

  it('keeps the rate constant with `none`', () => {
    expect([0, 5, 99].map((i) => learningRate(s('none', 10), 1, i, 100))).to.deep.equal([1, 1, 1]);
  });

  it('ramps linearly over the warm-up steps, then holds with `warmup`', () => {
    expect([0, 1, 3, 4, 50].map((i) => learningRate(s('warmup', 4), 1, i, 100))).to.deep.equal([
      0.25, 0.5, 1, 1, 1,
    ]);
  });

  it('warms up, then follows half a cosine to minLr at the last step with `cosine`', () => {
    const f = (i: number) => learningRate(s('cosine', 2, 0.1), 1, i, 12);
    expect(f(0)).to.equal(0.5);
    expect(f(2)).to.be.closeTo(1, 1e-12);
    expect(f(7)).to.be.closeTo(0.1 + 0.9 * 0.5 * (1 + Math.cos((Math.PI * 5) / 9)), 1e-12);
    expect(f(11)).to.be.closeTo(0.1, 1e-12);
  });

  it('decays linearly from one value to another over training', () => {
    expect([0, 5, 10, 20].map((i) => linearDecay(1, 0, i, 11))).to.deep.equal([1, 0.5, 0, 0]);
  });
});

describe('training config', () => {
  it('fills the defaults from the schema', () => {
    const c = resolveTrainingConfig({ steps: 10 });
    expect(c.optimizer).to.deep.equal({
      name: 'adam',
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0,
      momentum: 0.9,
      nesterov: false,
    });
    expect(c.schedule).to.deep.equal({ name: 'none', warmupSteps: 0, minLrRatio: 0 });
    expect(c).to.include({ batchSize: 8, evalEvery: 0, gradClip: 1 });
  });

  it('lists every problem with its path, and refuses steps with epochs', () => {
    expect(() => resolveTrainingConfig({ batchSize: -1, optimizer: { name: 'rmsprop' } })).to.throw(
      FprlError,
      /training\.batchSize: must be >= 1 \(got -1\)[\s\S]*training\.optimizer\.name: must be one of 'adam', 'adamw', 'sgd' \(got 'rmsprop'\)/,
    );
    expect(() => resolveTrainingConfig({ steps: 1, epochs: 1 })).to.throw(
      FprlError,
      /either `steps` or `epochs`/,
    );
  });

  it('counts the steps of an epoch-based config from the training set size', () => {
    expect(totalSteps(resolveTrainingConfig({ epochs: 2, batchSize: 4 }), 10)).to.equal(6);
    expect(() => totalSteps(resolveTrainingConfig({ epochs: 2 }))).to.throw(
      FprlError,
      /size of the training set/,
    );
  });
});

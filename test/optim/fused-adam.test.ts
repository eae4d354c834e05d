import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend.js';
import { Adam } from '../../src/optim/optimizers.js';
import { resolveTrainingConfig, type OptimizerConfig } from '../../src/optim/config.js';
import { nativeMatMul, withoutNative } from '../../src/native/index.js';
import { fusedAdam } from '../../src/wasm/adam-kernel.js';
import { Rng } from '../../src/core/rng.js';

const opt = (o: Partial<OptimizerConfig>): OptimizerConfig =>
  resolveTrainingConfig({ optimizer: o }).optimizer;

/** Weights and moments after `steps` updates of a matrix and a bias with seeded gradients. */
function train(config: OptimizerConfig, steps: number): Float32Array[] {
  const rng = new Rng('fused-adam');
  const normal = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  const w = tf.tidy(() => tf.variable(tf.tensor2d(normal(12 * 7), [12, 7])));
  const b = tf.tidy(() => tf.variable(tf.tensor1d(normal(7))));
  const adam = new Adam(config);
  for (let s = 0; s < steps; s++) {
    const gw = tf.tensor2d(normal(12 * 7), [12, 7]);
    const gb = tf.tensor1d(normal(7).map((x) => x * 1e-3));
    adam.apply([w, b], [gw, gb], 0.01 * (s + 1));
    tf.dispose([gw, gb]);
  }
  const out = [w, b, ...adam.getState([w, b]).slots.map((s) => s.tensor)].map((t) =>
    Float32Array.from(t.dataSync() as Float32Array),
  );
  adam.dispose();
  tf.dispose([w, b]);
  return out;
}

describe('fused Adam on wasm (src/wasm/adam-kernel.ts)', () => {
  before(async function () {
    await useBackend('wasm');
    if (!nativeMatMul()) this.skip();
  });

  for (const [name, config] of [
    [
      'adam with L2 decay',
      opt({ name: 'adam', lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 }),
    ],
    ['adamw', opt({ name: 'adamw', lr: 0.01, betas: [0.8, 0.95], eps: 1e-6, weightDecay: 0.1 })],
    ['adam without decay', opt({ name: 'adam', lr: 0.01 })],
  ] as const) {
    it(`gives bit for bit the weights and moments of the op-by-op update (${name}), leaking nothing`, () => {
      const before = tf.memory().numTensors;
      const fused = train(config, 4);
      expect(tf.memory().numTensors).to.equal(before);
      const ops = withoutNative(() => train(config, 4));
      expect(fused).to.deep.equal(ops);
    });
  }

  it('declines other dtypes and sizes, so the optimiser runs the ops', () => {
    tf.tidy(() => {
      const f = tf.ones([3]);
      const attrs = {
        b1: 0.9,
        b2: 0.999,
        bc1: 0.1,
        bc2: 0.001,
        eps: 1e-8,
        lr: 1,
        wd: 0,
        l2: false,
        decoupled: false,
      };
      expect(fusedAdam({ w: f, g: tf.ones([4]), m: f, v: f }, attrs)).to.equal(undefined);
      expect(fusedAdam({ w: f, g: tf.ones([3], 'int32'), m: f, v: f }, attrs)).to.equal(undefined);
      const out = fusedAdam({ w: f, g: f, m: f, v: f }, attrs)!;
      expect(out).to.have.length(3);
    });
  });
});

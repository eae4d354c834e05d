import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend.js';
import { Rng } from '../../src/core/rng.js';
import { DataParallel, forwardShard, shardLoss, type HeadVariables, type LossSpec } from '../../src/parallel/index.js';
import { KeptForward, canKeepForward } from '../../src/parallel/kept-forward.js';
import { createAgent } from '../../agents/registry.js';
import { FaceTransformer, HybridFaceTransformer, resolveViTConfig } from '../../agents/vit/index.js';
import { TINY_HYBRID } from '../vit/fixtures.js';
import type { ReinforceAgent, RlExperience } from '../../agents/reinforce.js';
import type { Observation, PolicyNet } from '../../src/core/types.js';

const C = 11;

const vitPolicy = (seed = 3): PolicyNet =>
  new FaceTransformer(
    resolveViTConfig({ imageSize: 8, patchSize: 4, dim: 16, depth: 1, heads: 2, mlpDim: 32, dropout: 0, embDropout: 0 }),
    new Rng(seed, 'model'),
  );

const hybridPolicy = (seed = 3): PolicyNet =>
  new HybridFaceTransformer(
    TINY_HYBRID,
    new Rng(seed, 'model'),
  );

function imagesOf(B: number, size: number, seed: number): tf.Tensor4D {
  const rng = new Rng(seed, 'images');
  return tf.tensor4d(new Float32Array(B * size * size * 3).map(() => rng.uniform(-1, 1)), [B, size, size, 3]);
}

function specOf(B: number, size: number, seed: number, withValue: boolean): LossSpec {
  const rng = new Rng(seed, 'spec');
  const weights = new Float32Array(B * size * size * C).map(() => rng.uniform(-1, 1) / (B * size * size));
  return {
    weights,
    normalizer: 1,
    entropyCoef: 0.05,
    ...(withValue ? { value: { targets: new Float32Array(2 * B).map(() => rng.uniform(0, 1)), K: 2, coef: 0.5 } } : {}),
  };
}

const bits = (t: tf.Tensor) => Buffer.from((t.dataSync() as Float32Array).buffer);

/** Everything about a shard's loss result, as bytes and numbers. */
function snapshot(r: ReturnType<typeof shardLoss>) {
  const out = { grads: r.grads.map(bits), loss: r.loss, policyTerm: r.policyTerm, entropy: r.entropy, valueLoss: r.valueLoss };
  r.grads.forEach((g) => g.dispose());
  return out;
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`kept forward passes (src/parallel/kept-forward.ts) on ${backend}`, function () {
    this.timeout(60_000);
    before(() => useBackend(backend));
    after(() => useBackend('cpu'));

    for (const [name, make, size] of [
      ['Face Transformer', vitPolicy, 8],
      ['hybrid (convolutions, upsampling)', hybridPolicy, 16],
    ] as const) {
      for (const withValue of [false, true]) {
        it(`differentiates the kept pass of a ${name} to one variableGrads call's gradients, bit for bit${withValue ? ' (value term and head too)' : ''}`, () => {
          const start = tf.memory().numTensors;
          const policy = make();
          const images = imagesOf(3, size, 1);
          const spec = specOf(3, size, 2, withValue);
          const probe = tf.tidy(() => policy.apply(images, { training: false }).pooled);
          const D = probe.shape[1];
          probe.dispose();
          const head: HeadVariables | undefined = withValue
            ? tf.tidy(() => ({
                kernel: tf.variable(tf.randomUniform([D, 1], -1, 1, 'float32', 5)),
                bias: tf.variable(tf.tensor1d([0.1])),
              }))
            : undefined;
          try {
            const direct = snapshot(shardLoss(policy, images, spec, 1, head));
            const before = tf.memory().numTensors;
            const fwd = forwardShard(policy, images, 'argmax', { keep: true });
            expect(fwd.kept, 'a kept pass').to.not.equal(undefined);
            const kept = snapshot(shardLoss(policy, images, spec, 1, head, fwd.kept));
            expect(tf.memory().numTensors, 'tensors left by the kept pass and its backward').to.equal(before);
            expect(kept.loss).to.equal(direct.loss);
            expect(kept.policyTerm).to.equal(direct.policyTerm);
            expect(kept.entropy).to.equal(direct.entropy);
            expect(kept.valueLoss).to.equal(direct.valueLoss);
            expect(kept.grads.length).to.equal(direct.grads.length);
            kept.grads.forEach((g, i) => expect(g.equals(direct.grads[i]), `gradient ${i}`).to.equal(true));
          } finally {
            images.dispose();
            if (head) tf.dispose([head.kernel, head.bias]);
            policy.dispose();
          }
          expect(tf.memory().numTensors, 'tensors left by the test').to.equal(start);
        });
      }
    }
  });
}

describe('kept forward passes: lifetime and guards', function () {
  this.timeout(60_000);
  before(() => useBackend('cpu'));

  it('differentiates a kept pass once, and frees it unused on dispose', () => {
    const x = tf.variable(tf.tensor1d([1, 2, 3]));
    const before = tf.memory().numTensors;
    const pass = KeptForward.record(() => [tf.sum(tf.square(x))]);
    const dy = tf.scalar(2);
    const [g] = pass.backward([dy], [x]);
    expect(Array.from(g!.dataSync())).to.deep.equal([4, 8, 12]);
    expect(() => pass.backward([dy], [x])).to.throw(/already used/);
    tf.dispose([g!, dy]);
    KeptForward.record(() => [tf.exp(x)]).dispose();
    expect(tf.memory().numTensors).to.equal(before);
    x.dispose();
  });

  it('keeps nothing inside another gradient computation (the forward runs as before)', () => {
    const policy = vitPolicy();
    const images = imagesOf(2, 8, 1);
    try {
      let inside: boolean | undefined;
      let kept: unknown;
      tf.variableGrads(() => {
        inside = canKeepForward();
        kept = forwardShard(policy, images, 'argmax', { keep: true }).kept;
        return tf.sum(policy.trainableVariables[0]) as tf.Scalar;
      }, [policy.trainableVariables[0]]).grads[policy.trainableVariables[0].name].dispose();
      expect(inside).to.equal(false);
      expect(kept).to.equal(undefined);
      expect(canKeepForward()).to.equal(true);
    } finally {
      images.dispose();
      policy.dispose();
    }
  });
});

/** k = 2 samples per image scored by a fixed per-pixel rule (label == (pixel mod C)), as the env would. */
function scored(obs: Observation, labels: Int32Array, K: number): RlExperience {
  const [B, H, W] = obs.images.shape;
  const P = H * W;
  const pixelReward = new Float32Array(K * B * P);
  const reward = new Float32Array(K * B);
  for (let i = 0; i < labels.length; i++) {
    pixelReward[i] = labels[i] === i % C ? 1 : 0;
    reward[Math.floor(i / P)] += pixelReward[i] / P;
  }
  const target = new Int32Array(B * P).map((_, i) => i % C);
  return {
    observation: obs,
    target,
    action: { labels, samples: K },
    result: { reward, pixelReward, components: {}, info: { ids: obs.ids, samples: K } },
  } as unknown as RlExperience;
}

/**
 * Three REINFORCE updates (act, score, learn) of a small Face Transformer on `threads`, the agent
 * reusing its sampling pass or not; `active[i]` threads compute update i (it changes between act
 * and learn when `switchActive`). The weights after, the losses, and the main thread's forward
 * passes (policy.apply calls) per update.
 */
async function reinforceRun(opts: {
  reuse: boolean;
  threads: number;
  baseline: 'rloo' | 'critic' | 'self-critical';
  switchActive?: boolean;
}): Promise<{ weights: Buffer[]; losses: Record<string, number>[]; applies: number }> {
  const policy = vitPolicy(4);
  let applies = 0;
  const apply = policy.apply.bind(policy);
  policy.apply = (...a) => (applies++, apply(...a));
  const K = 2;
  const credit = opts.baseline === 'critic' ? 'image' : 'pixel';
  const agent = createAgent({ kind: 'reinforce', baseline: opts.baseline, samples: K, credit, entropyCoef: 0.05 }, policy, {
    rng: new Rng(5, 'agent'),
    training: { optimizer: { name: 'adam', lr: 0.01 } } as never,
  }) as ReinforceAgent;
  agent.reuseSamplingPass = opts.reuse;
  const pool = opts.threads > 1 ? await DataParallel.create(policy, opts.threads) : undefined;
  agent.useParallel(pool);
  const losses: Record<string, number>[] = [];
  try {
    for (let step = 0; step < 3; step++) {
      const obs: Observation = { images: imagesOf(3, 8, 10 + step), ids: ['a', 'b', 'c'] } as Observation;
      try {
        if (opts.switchActive) pool!.setActive(2);
        const action = await agent.act(obs, 'sample', K);
        const exp = scored(obs, action.labels, K);
        if (opts.baseline === 'self-critical') {
          const greedy = scored(obs, (await agent.act(obs, 'greedy')).labels, 1);
          exp.greedyReward = greedy.result!.reward;
          exp.greedyPixelReward = greedy.result!.pixelReward;
        }
        if (opts.switchActive && step === 1) pool!.setActive(1);
        losses.push(await agent.learn(exp));
      } finally {
        obs.images.dispose();
      }
    }
    const head = agent.valueHead?.variables ?? [];
    return { weights: [...policy.trainableVariables, ...head].map(bits), losses, applies };
  } finally {
    agent.useParallel(undefined);
    await pool?.dispose();
    agent.dispose();
  }
}

describe('REINFORCE learns from the pass it sampled from (src/parallel/pool.ts "Kept passes")', function () {
  this.timeout(120_000);
  before(() => useBackend('wasm'));
  after(() => useBackend('cpu'));

  for (const baseline of ['rloo', 'critic', 'self-critical'] as const) {
    for (const threads of [1, 2]) {
      it(`${baseline}, ${threads} thread${threads > 1 ? 's' : ''}: the same weights and losses bit for bit, one forward pass fewer per update`, async () => {
        const again = await reinforceRun({ reuse: false, threads, baseline });
        const kept = await reinforceRun({ reuse: true, threads, baseline });
        expect(kept.losses).to.deep.equal(again.losses);
        kept.weights.forEach((w, i) => expect(w.equals(again.weights[i]), `variable ${i}`).to.equal(true));
        // On the main thread: the greedy pass (self-critical) and, without the kept pass, the learning pass.
        const perUpdate = (r: { applies: number }) => r.applies / 3;
        expect(perUpdate(again) - perUpdate(kept), 'forward passes saved per update').to.equal(1);
      });
    }
  }

  it('falls back to a new forward pass when the active threads change between act and learn, with the same numbers', async () => {
    const again = await reinforceRun({ reuse: false, threads: 2, baseline: 'rloo', switchActive: true });
    const kept = await reinforceRun({ reuse: true, threads: 2, baseline: 'rloo', switchActive: true });
    expect(kept.losses).to.deep.equal(again.losses);
    kept.weights.forEach((w, i) => expect(w.equals(again.weights[i]), `variable ${i}`).to.equal(true));
    // Update 2 changed from 2 to 1 active threads after sampling: that one ran the forward again.
    expect(again.applies - kept.applies).to.equal(2);
  });

  it('frees a kept pass that no learn used: on learning other images, on the next sampling, on dispose', async () => {
    for (const threads of [1, 2]) {
      const start = tf.memory().numTensors;
      const policy = vitPolicy(6);
      const agent = createAgent({ kind: 'reinforce', baseline: 'rloo', samples: 2, credit: 'pixel' }, policy, {
        rng: new Rng(5, 'agent'),
        training: { optimizer: { name: 'adam', lr: 0.01 } } as never,
      }) as ReinforceAgent;
      const pool = threads > 1 ? await DataParallel.create(policy, threads) : undefined;
      agent.useParallel(pool);
      const a: Observation = { images: imagesOf(3, 8, 1), ids: ['a', 'b', 'c'] } as Observation;
      const b: Observation = { images: imagesOf(3, 8, 2), ids: ['a', 'b', 'c'] } as Observation;
      const someLabels = new Int32Array(2 * 3 * 64).map((_, i) => (i * 7) % C);
      try {
        await agent.learn(scored(b, (await agent.act(b, 'sample', 2)).labels, 2)); // the optimiser's slots
        const base = tf.memory().numTensors;
        await agent.act(a, 'sample', 2);
        const one = tf.memory().numTensors;
        expect(one, 'a kept pass holds tensors').to.be.above(base);
        await agent.act(b, 'sample', 2);
        expect(tf.memory().numTensors, 'the next sampling replaces the pass').to.equal(one);
        // The pass is of b: learning a runs the forward again and frees it.
        await agent.learn(scored(a, someLabels, 2));
        expect(tf.memory().numTensors, 'after learning other images').to.equal(base);
        await agent.act(a, 'sample', 2);
      } finally {
        agent.useParallel(undefined);
        await pool?.dispose();
        agent.dispose();
        tf.dispose([a.images, b.images]);
      }
      expect(tf.memory().numTensors, `${threads} thread(s): nothing left after dispose`).to.equal(start);
    }
  });
});

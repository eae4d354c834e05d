import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend.js';
import { Rng } from '../../src/core/rng.js';
import { DataParallel, shardRanges, defaultThreads } from '../../src/parallel/index.js';
import { threadsFor } from '../../src/train/parallel.js';
import { createAgent } from '../../agents/registry.js';
import { LinearPolicy } from '../../agents/nets/linear.js';
import { FaceTransformer, resolveViTConfig } from '../../agents/vit/index.js';
import type { PolicyAgent } from '../../agents/policy-agent.js';
import type { ReinforceAgent, RlExperience } from '../../agents/reinforce.js';
import type { PolicyNet } from '../../src/core/types.js';

/**
 * Tolerance of "N threads equal one thread": the shards' gradients are the batch's gradient
 * split into sums over images, so only the float32 summation order differs. After two Adam
 * updates every weight agrees within 1e-5 relative (of the largest weight) and the loss within 1e-5.
 */
const REL_TOL = 1e-5;

const H = 8;
const W = 8;
const C = 11;

function batch(
  B: number,
  seed: number,
): { images: Float32Array; target: Int32Array; labels: Int32Array; credit: Float32Array } {
  const rng = new Rng(seed, 'test-batch');
  const images = new Float32Array(B * H * W * 3).map(() => rng.uniform(-1, 1));
  const target = new Int32Array(B * H * W).map(() => rng.int(0, C));
  target[3] = 255; // an ignored pixel
  const K = 4;
  const labels = new Int32Array(K * B * H * W).map(() => rng.int(0, C));
  const credit = new Float32Array(K * B * H * W).map(() => rng.uniform(0, 1));
  return { images, target, labels, credit };
}

function experience(B: number, seed: number): RlExperience {
  const b = batch(B, seed);
  const reward = new Float32Array(4 * B).map((_, i) => (i * 0.37) % 1);
  return {
    observation: {
      images: tf.tensor4d(b.images, [B, H, W, 3]),
      ids: Array.from({ length: B }, (_, i) => `f${i}`),
    },
    target: b.target,
    action: { labels: b.labels, samples: 4 },
    result: { reward, pixelReward: b.credit, components: {}, info: { ids: [], samples: 4 } },
  } as unknown as RlExperience;
}

type Made = { agent: PolicyAgent; policy: PolicyNet };

function linearAgent(config: object): Made {
  const policy = new LinearPolicy({ height: H, width: W }, new Rng(7, 'model'));
  const agent = createAgent(config, policy, {
    rng: new Rng(7, 'agent'),
    training: { optimizer: { name: 'adam', lr: 0.05 }, gradClip: 1 } as never,
  }) as PolicyAgent;
  return { agent, policy };
}

/**
 * Updates on batches of B images (seeds 1, 2, or one per entry of `active`) on a pool of
 * `threads`; `active[i]` threads compute update i. The losses and the weights after.
 */
async function trainTwice(
  make: () => Made,
  threads: number,
  B: number,
  active?: number[],
): Promise<{ losses: Record<string, number>[]; weights: Float32Array[] }> {
  const { agent, policy } = make();
  const pool = threads > 1 ? await DataParallel.create(policy, threads) : undefined;
  agent.useParallel(pool);
  const losses: Record<string, number>[] = [];
  try {
    for (const [i, seed] of (active ? active.map((_, j) => j + 1) : [1, 2]).entries()) {
      if (active) pool?.setActive(active[i]);
      const exp = experience(B, seed);
      try {
        losses.push((await agent.learn(exp)) as Record<string, number>);
      } finally {
        exp.observation.images.dispose();
      }
    }
    // The critic's value head is trained too: compare its weights with the policy's.
    const head = (agent as Partial<ReinforceAgent>).valueHead?.variables ?? [];
    return {
      losses,
      weights: [...policy.trainableVariables, ...head].map((v) =>
        Float32Array.from(v.dataSync() as Float32Array),
      ),
    };
  } finally {
    agent.useParallel(undefined);
    await pool?.dispose();
    agent.dispose();
  }
}

function expectClose(a: { losses: Record<string, number>[]; weights: Float32Array[] }, b: typeof a): void {
  for (let s = 0; s < a.losses.length; s++) {
    for (const [k, v] of Object.entries(a.losses[s])) {
      expect(b.losses[s][k], `${k} of update ${s + 1}`).to.be.closeTo(v, REL_TOL * Math.max(1, Math.abs(v)));
    }
  }
  a.weights.forEach((w, i) => {
    const scale = Math.max(1, ...Array.from(w, Math.abs));
    let worst = 0;
    for (let j = 0; j < w.length; j++) worst = Math.max(worst, Math.abs(w[j] - b.weights[i][j]));
    expect(worst / scale, `variable ${i}`).to.be.below(REL_TOL);
  });
}

function expectIdentical(
  a: { losses: Record<string, number>[]; weights: Float32Array[] },
  b: typeof a,
): void {
  expect(b.losses).to.deep.equal(a.losses);
  a.weights.forEach((w, i) =>
    expect(Buffer.from(b.weights[i].buffer).equals(Buffer.from(w.buffer))).to.equal(true),
  );
}

describe('data-parallel training (src/parallel/)', function () {
  this.timeout(60_000);
  before(() => useBackend('cpu'));

  it('splits a batch into contiguous shards that differ by at most one image and are never empty', () => {
    expect(shardRanges(8, 2)).to.deep.equal([
      { start: 0, count: 4 },
      { start: 4, count: 4 },
    ]);
    expect(shardRanges(5, 3)).to.deep.equal([
      { start: 0, count: 2 },
      { start: 2, count: 2 },
      { start: 4, count: 1 },
    ]);
    expect(shardRanges(1, 4)).to.deep.equal([{ start: 0, count: 1 }]);
  });

  it('defaults to the cores left per concurrent run, and an explicit request beats the config', () => {
    expect(defaultThreads(2, 2)).to.equal(1);
    expect(defaultThreads(1, 2)).to.equal(2);
    expect(defaultThreads(3, 2)).to.equal(1);
    expect(threadsFor(undefined)).to.deep.equal({ threads: 1, start: 1, explicit: false, adaptive: false });
    expect(threadsFor(undefined, { fallback: 2 })).to.deep.equal({ threads: 2, start: 2, explicit: false, adaptive: false });
    expect(threadsFor(3, { fallback: 2 })).to.deep.equal({ threads: 3, start: 3, explicit: true, adaptive: false });
    expect(threadsFor(3, { forced: 2, fallback: 1 })).to.deep.equal({ threads: 2, start: 2, explicit: true, adaptive: false });
    // fprl run's default: a pool of the cores per run, starting with the free ones computing.
    expect(threadsFor(undefined, { fallback: 1, adaptUpTo: 2 })).to.deep.equal({
      threads: 2,
      start: 1,
      explicit: false,
      adaptive: true,
    });
    expect(threadsFor(3, { fallback: 1, adaptUpTo: 2 })).to.deep.equal({ threads: 3, start: 3, explicit: true, adaptive: false });
  });

  it('gives bit-identical updates whatever the number of active threads: the shards fix the arithmetic', async function () {
    this.timeout(180_000); // four pools of three threads
    // 3 shards computed by 3, 2 and 1 threads (the idle workers' shards on the main thread).
    const run = (make: () => Made, active: number[]) => trainTwice(make, 3, 5, active);
    const supervised = () => linearAgent({ kind: 'supervised', labelSmoothing: 0.1 });
    const all = await run(supervised, [3, 3, 3]);
    expectIdentical(all, await run(supervised, [2, 1, 3]));
    // REINFORCE samples through the pool too (split sampling pass), and the critic's head.
    const critic = () =>
      linearAgent({ kind: 'reinforce', baseline: 'critic', credit: 'pixel', samples: 4, valueCoef: 0.5 });
    const allR = await run(critic, [3, 3, 3]);
    expectIdentical(allR, await run(critic, [1, 2, 1]));
    expect(() => DataParallel.single(new LinearPolicy({ height: H, width: W }, new Rng(1, 'm'))).setActive(2)).to.throw(
      /active threads must be a whole number from 1 to 1/,
    );
  });

  it('labels and samples a batch the same with any number of active threads', async () => {
    const policy = new LinearPolicy({ height: H, width: W }, new Rng(7, 'model'));
    const pool = await DataParallel.create(policy, 2);
    const b = batch(3, 4);
    const images = tf.tensor4d(b.images, [3, H, W, 3]);
    const u = new Float64Array(2 * 3 * H * W).map((_, i) => ((i * 0.6180339) % 1));
    try {
      const greedy2 = await pool.greedy(policy, images, 0);
      const sample2 = await pool.sample(policy, images, 2, u, 0, true);
      pool.setActive(1);
      const before = tf.memory().numTensors;
      expect(Array.from(await pool.greedy(policy, images, 0))).to.deep.equal(Array.from(greedy2));
      const sample1 = await pool.sample(policy, images, 2, u, 0, true);
      expect(Array.from(sample1.labels)).to.deep.equal(Array.from(sample2.labels));
      expect(Array.from(sample1.pooled!)).to.deep.equal(Array.from(sample2.pooled!));
      expect(tf.memory().numTensors).to.equal(before);
    } finally {
      images.dispose();
      await pool.dispose();
      policy.dispose();
    }
  });

  it('trains the supervised agent on 2 threads to the weights of 1 thread (odd batch), bit-identically twice', async () => {
    const make = () => linearAgent({ kind: 'supervised', labelSmoothing: 0.1 });
    const one = await trainTwice(make, 1, 3);
    const two = await trainTwice(make, 2, 3);
    const again = await trainTwice(make, 2, 3);
    expectClose(one, two);
    expectIdentical(two, again);
    expect(one.weights[1].some((x) => x !== 0)).to.equal(true); // the update moved the bias
  });

  it('trains REINFORCE (rloo, k = 4, pixel credit, entropy bonus) on 3 threads to the weights of 1 thread', async () => {
    const make = () =>
      linearAgent({ kind: 'reinforce', baseline: 'rloo', credit: 'pixel', samples: 4, entropyCoef: 0.05 });
    const one = await trainTwice(make, 1, 4);
    const three = await trainTwice(make, 3, 4);
    expectClose(one, three);
    expectIdentical(three, await trainTwice(make, 3, 4));
  });

  it("names the worker when a shard fails, frees the main shard's gradients, and stays usable", async () => {
    const policy = new LinearPolicy({ height: H, width: W }, new Rng(7, 'model'));
    const pool = await DataParallel.create(policy, 2);
    const images = tf.zeros([2, H, W, 3]) as tf.Tensor4D;
    try {
      const before = tf.memory().numTensors;
      const short = new Float32Array(H * W * C + 5); // the second image's weights are cut off
      let err: Error | undefined;
      await pool.gradients(policy, images, { weights: short, normalizer: 1 }, 0).catch((e: Error) => (err = e));
      expect(err?.message).to.match(/^gradient worker 1 failed: /);
      expect(tf.memory().numTensors).to.equal(before);
      const ok = await pool.gradients(policy, images, { weights: new Float32Array(2 * H * W * C), normalizer: 1 }, 0);
      expect(ok.grads).to.have.length(2);
      tf.dispose(ok.grads);
    } finally {
      images.dispose();
      await pool.dispose();
      policy.dispose();
    }
  });

  it('trains REINFORCE with the critic on 2 threads to the weights of 1 thread, value head included', async () => {
    const make = () =>
      linearAgent({ kind: 'reinforce', baseline: 'critic', credit: 'pixel', samples: 4, valueCoef: 0.5 });
    const one = await trainTwice(make, 1, 5);
    const two = await trainTwice(make, 2, 5);
    expectClose(one, two);
    expect(one.losses[0]['losses/value']).to.be.above(0);
    expect(
      one.weights.at(-2)!.some((x) => x !== 0),
      'the critic kernel moved',
    ).to.equal(true);
    expectIdentical(two, await trainTwice(make, 2, 5));
  });

  it("gives the critic its values from the sampling pass's pooled features (no second forward pass)", async () => {
    const results: Record<string, number>[] = [];
    for (const threads of [1, 2]) {
      const { agent, policy } = linearAgent({ kind: 'reinforce', baseline: 'critic', samples: 4 });
      const pool = threads > 1 ? await DataParallel.create(policy, threads) : undefined;
      const passes = { sample: 0, pooled: 0 };
      if (pool) {
        const sample = pool.sample.bind(pool);
        const pooled = pool.pooled.bind(pool);
        pool.sample = (...a) => (passes.sample++, sample(...a));
        pool.pooled = (...a) => (passes.pooled++, pooled(...a));
      }
      agent.useParallel(pool);
      const exp = experience(4, 9);
      try {
        await agent.act(exp.observation, 'sample', 4);
        results.push((await agent.learn(exp)) as Record<string, number>);
        if (pool) expect(passes, 'forward passes on the pool').to.deep.equal({ sample: 1, pooled: 0 });
      } finally {
        exp.observation.images.dispose();
        agent.useParallel(undefined);
        await pool?.dispose();
        agent.dispose();
      }
    }
    for (const [k, v] of Object.entries(results[0]))
      expect(results[1][k], k).to.be.closeTo(v, REL_TOL * Math.max(1, Math.abs(v)));
  });

  it('acts greedily and samples on 2 threads as on 1 thread, leaking no tensors', async () => {
    const { agent, policy } = linearAgent({ kind: 'reinforce', samples: 2 });
    const exp = experience(3, 5);
    const pool = await DataParallel.create(policy, 2);
    try {
      await agent.learn(exp); // creates the optimiser's slots, which stay
      const before = tf.memory().numTensors;
      const greedy1 = await agent.act(exp.observation, 'greedy');
      agent.setSamplingStream(new Rng(3, 's'));
      const sampled1 = await agent.act(exp.observation, 'sample', 2);
      agent.useParallel(pool);
      const greedy2 = await agent.act(exp.observation, 'greedy');
      agent.setSamplingStream(new Rng(3, 's'));
      const sampled2 = await agent.act(exp.observation, 'sample', 2);
      await agent.learn(exp);
      expect(tf.memory().numTensors).to.equal(before);
      expect(Array.from(greedy2.labels)).to.deep.equal(Array.from(greedy1.labels));
      expect(Array.from(sampled2.labels)).to.deep.equal(Array.from(sampled1.labels));
    } finally {
      agent.useParallel(undefined);
      await pool.dispose();
      exp.observation.images.dispose();
      agent.dispose();
    }
  });

  it('trains a small Face Transformer on wasm on 2 threads to the weights of 1 thread', async () => {
    await useBackend('wasm');
    try {
      const vit = resolveViTConfig({
        imageSize: 8,
        patchSize: 4,
        dim: 16,
        depth: 1,
        heads: 2,
        mlpDim: 32,
        dropout: 0,
        embDropout: 0,
      });
      const make = (): Made => {
        const policy = new FaceTransformer(vit, new Rng(3, 'model'));
        const agent = createAgent({ kind: 'supervised' }, policy, {
          rng: new Rng(3, 'agent'),
          // SGD: the update is linear in the gradient. Adam divides by sqrt(v), which turns
          // summation-order noise in a near-zero gradient element into a visible step.
          training: { optimizer: { name: 'sgd', lr: 0.1 } } as never,
        }) as PolicyAgent;
        return { agent, policy };
      };
      const one = await trainTwice(make, 1, 4);
      const two = await trainTwice(make, 2, 4);
      expectClose(one, two);
    } finally {
      await useBackend('cpu');
    }
  });

  it('draws dropout per shard from the update stream: with dropout on, 2 threads twice are bit-identical', async () => {
    await useBackend('wasm');
    try {
      const vit = resolveViTConfig({
        imageSize: 8,
        patchSize: 4,
        dim: 16,
        depth: 1,
        heads: 2,
        mlpDim: 32,
        dropout: 0.2,
        embDropout: 0.1,
      });
      const make = (): Made => {
        const policy = new FaceTransformer(vit, new Rng(3, 'model'));
        const agent = createAgent({ kind: 'supervised' }, policy, {
          rng: new Rng(3, 'agent'),
        }) as PolicyAgent;
        return { agent, policy };
      };
      expectIdentical(await trainTwice(make, 2, 4), await trainTwice(make, 2, 4));
    } finally {
      await useBackend('cpu');
    }
  });
});

import { expect } from 'chai';
import { useBackend } from '../helpers/backend.js';
import { Rng } from '../../src/core/rng.js';
import { EventBus } from '../../src/core/bus.js';
import { SyntheticFaces } from '../../src/data/index.js';
import { FaceParsingEnv } from '../../envs/index.js';
import { registerBuiltinRewards } from '../../rewards/index.js';
import { createAgent } from '../../agents/registry.js';
import { LinearPolicy } from '../../agents/nets/linear.js';
import { train } from '../../src/train/trainer.js';
import { resolveTrainingConfig } from '../../src/optim/config.js';
import os from 'node:os';
import { attachParallel, threadsFor } from '../../src/train/parallel.js';
import { runThreads } from '../../src/commands/run.js';
import { FprlError } from '../../src/core/errors.js';

/** Train REINFORCE (rloo, difference credit, Dice) for 3 steps of 4 images on `threads` threads. */
async function run(
  threads: number | undefined,
): Promise<{ scalars: Record<string, number>[]; weights: number[] }> {
  registerBuiltinRewards();
  const bus = new EventBus();
  const env = new FaceParsingEnv({
    id: 'SyntheticFaces-v0',
    dataset: new SyntheticFaces({ size: 16, count: 16, seed: 0 }),
    batchSize: 4,
    rng: new Rng(1, 'env'),
    bus,
    rewards: [{ name: 'dice', plugin: 'dice', weight: 1 }],
  });
  const config = resolveTrainingConfig({
    steps: 3,
    batchSize: 4,
    threads,
    optimizer: { name: 'sgd', lr: 0.5 },
  });
  const policy = new LinearPolicy({ height: 16, width: 16 }, new Rng(2, 'model'));
  const agent = createAgent(
    { kind: 'reinforce', baseline: 'rloo', credit: 'difference', samples: 2 },
    policy,
    { rng: new Rng(3, 'agent'), training: config },
  );
  const scalars: Record<string, number>[] = [];
  bus.on('train:step').subscribe((e) => scalars.push(e.scalars));
  try {
    await train({ agent, env, bus, config, runId: 'r', seed: 0 });
    return { scalars, weights: policy.trainableVariables.flatMap((v) => Array.from(v.dataSync())) };
  } finally {
    agent.dispose();
    env.close();
  }
}

describe('the trainer with training.threads', function () {
  this.timeout(60_000);
  before(() => useBackend('cpu'));

  it('trains on 2 threads (perf/threads 2) to the losses and weights of 1 thread, and lets the workers go', async () => {
    const one = await run(undefined);
    const two = await run(2);
    expect(one.scalars.map((s) => s['perf/threads'])).to.deep.equal([1, 1, 1]);
    expect(two.scalars.map((s) => s['perf/threads'])).to.deep.equal([2, 2, 2]);
    two.scalars.forEach((s, i) => {
      for (const k of ['losses/total', 'losses/policy', 'policy/entropy', 'grad/norm', 'reward/mean'])
        expect(s[k], `${k} at step ${i + 1}`).to.be.closeTo(
          one.scalars[i][k],
          1e-5 * Math.max(1, Math.abs(one.scalars[i][k])),
        );
    });
    const worst = Math.max(...one.weights.map((w, i) => Math.abs(w - two.weights[i])));
    expect(worst).to.be.below(1e-5);
  });
});

describe('the default thread count', function () {
  this.timeout(30_000);
  before(() => useBackend('cpu'));
  function agentOf(size: number) {
    const policy = new LinearPolicy({ height: size, width: size }, new Rng(2, 'model'));
    return createAgent({ kind: 'supervised' }, policy, { rng: new Rng(3, 'agent') });
  }

  it('applies only from 8 x 128 x 128 pixels per step; an explicit count always applies', async () => {
    const choice = { fallback: 2 };
    const small = agentOf(16);
    const large = agentOf(128);
    try {
      expect(await attachParallel(small, undefined, 8 * 16 * 16, choice)).to.equal(undefined);
      const big = await attachParallel(large, undefined, 8 * 128 * 128, choice);
      expect(big?.threads).to.equal(2);
      await big?.detach();
      // The adaptive default: two shards, one computing at first; the tuner moves the count.
      const adaptive = await attachParallel(large, undefined, 8 * 128 * 128, { fallback: 1, adaptUpTo: 2 });
      expect(adaptive?.threads).to.equal(2);
      expect(adaptive?.active()).to.equal(1);
      for (let i = 0; i < 29; i++) adaptive!.stepDone(100);
      expect(adaptive?.active(), 'probes two threads after 30 steps').to.equal(1);
      adaptive!.stepDone(100);
      expect(adaptive?.active()).to.equal(2);
      for (let i = 0; i < 4; i++) adaptive!.stepDone(60); // one untimed, three timed: faster
      expect(adaptive?.active()).to.equal(2);
      expect(adaptive?.switches()).to.deep.equal([{ step: 34, from: 1, to: 2, fromMs: 100, toMs: 60 }]);
      await adaptive?.detach();
      const asked = await attachParallel(small, 2, 8 * 16 * 16, choice);
      expect(asked?.threads).to.equal(2);
      await asked?.detach();
      const forced = await attachParallel(small, undefined, 8 * 16 * 16, { forced: 2, fallback: 1 });
      expect(forced?.threads).to.equal(2);
      await forced?.detach();
    } finally {
      small.dispose();
      large.dispose();
    }
  });

  it('is chosen once by fprl run: --threads, else FPRL_THREADS, beats the config; else the cores per worker', () => {
    const cores = os.availableParallelism();
    expect(runThreads({ threads: 3, workers: 1 }, { FPRL_THREADS: '2' })).to.deep.equal({
      forced: 3,
      fallback: cores,
      adaptUpTo: cores,
    });
    expect(runThreads({ workers: 1 }, { FPRL_THREADS: '2' })).to.deep.equal({
      forced: 2,
      fallback: cores,
      adaptUpTo: cores,
    });
    expect(runThreads({ workers: 'auto' }, {})).to.deep.equal({ fallback: 1, adaptUpTo: 1 });
    // One core of the cores free: start with one computing, adapt up to all of them.
    expect(runThreads({ workers: 1 }, {}, 1)).to.deep.equal({ fallback: 1, adaptUpTo: cores });
    expect(() => runThreads({}, { FPRL_THREADS: 'two' })).to.throw(FprlError, /FPRL_THREADS|integer/);
    expect(threadsFor(4, { forced: 2, fallback: 1 })).to.deep.equal({ threads: 2, start: 2, explicit: true, adaptive: false });
    expect(threadsFor(4)).to.deep.equal({ threads: 4, start: 4, explicit: true, adaptive: false });
    expect(threadsFor(undefined)).to.deep.equal({ threads: 1, start: 1, explicit: false, adaptive: false });
  });
});

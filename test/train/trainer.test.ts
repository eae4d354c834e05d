import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { useBackend } from '../helpers/backend.js';
import { EventBus, type BusEvent } from '../../src/core/bus.js';
import { Rng } from '../../src/core/rng.js';
import { ConfusionMatrix } from '../../src/metrics/index.js';
import { LinearPolicy, createAgent, type FprlAgent, type ReinforceAgent } from '../../agents/index.js';
import { resolveTrainingConfig } from '../../src/optim/config.js';
import { train, type TrainOptions } from '../../src/train/trainer.js';
import { evaluate } from '../../src/train/evaluate.js';
import {
  readCheckpointMeta,
  writeCheckpoint,
  loadCheckpoint,
  initFromCheckpoint,
} from '../../src/train/checkpoint.js';
import { ArrayDataset, TinyEnv, colourWorld, correctness, macroF1 } from '../agents/fakes.js';
import { refusal } from '../helpers/refusal.js';

const H = 4;
const W = 4;
const C = 3;

function world(seed = 0) {
  return colourWorld(16, H, W, seed);
}

function makeEnv(reward = macroF1(C)): TinyEnv {
  return new TinyEnv({
    ...world(),
    height: H,
    width: W,
    batchSize: 4,
    numClasses: C,
    reward,
    pixelCredit: correctness,
    seed: 3,
  });
}

function evalSet(): ArrayDataset {
  const w = world(9);
  return new ArrayDataset(w.images, w.targets, H, W, C);
}

function makeAgent(config: object, seed = 1): FprlAgent {
  const policy = new LinearPolicy({ height: H, width: W, numClasses: C }, new Rng(seed, 'policy'));
  return createAgent(config, policy, {
    rng: new Rng(seed, 'agent'),
    numClasses: C,
    training: resolveTrainingConfig({ optimizer: { lr: 0.05 } }),
  }) as FprlAgent;
}

function record(bus: EventBus): BusEvent[] {
  const events: BusEvent[] = [];
  bus.all().subscribe((e) => events.push(e));
  return events;
}

describe('trainer', () => {
  let dir: string;
  before(() => useBackend('cpu'));
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fprl-train-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  function options(
    agent: FprlAgent,
    env: TinyEnv,
    bus: EventBus,
    training: object,
    extra: Partial<TrainOptions> = {},
  ): TrainOptions {
    return {
      agent,
      env,
      bus,
      config: resolveTrainingConfig({ batchSize: 4, evalBatchSize: 5, optimizer: { lr: 0.05 }, ...training }),
      runId: 'run',
      seed: 0,
      evalDataset: evalSet(),
      checkpointDir: path.join(dir, 'ckpt'),
      numClasses: C,
      ...extra,
    };
  }

  it('emits run:start, train:step, eval:end, checkpoint and run:end in order, with the documented scalars', async () => {
    const bus = new EventBus();
    const events = record(bus);
    const agent = makeAgent({ kind: 'reinforce', baseline: 'rloo' });
    const env = makeEnv();
    const r = await train(options(agent, env, bus, { steps: 4, evalEvery: 2, checkpointEvery: 3 }));
    expect(events.map((e) => `${e.type}${'step' in e ? `@${e.step}` : ''}`)).to.deep.equal([
      'run:start',
      'train:step@1',
      'train:step@2',
      'eval:end@2',
      'train:step@3',
      'checkpoint@3',
      'train:step@4',
      'eval:end@4',
      'checkpoint@4',
      'run:end',
    ]);
    const step = events.find((e) => e.type === 'train:step') as BusEvent<'train:step'>;
    expect(step.scalars).to.include.keys(
      'reward/mean',
      'reward/std',
      'reward/tiny',
      'adv/std',
      'policy/entropy',
      'grad/norm',
      'losses/policy',
      'losses/entropy',
      'lr',
      'perf/images_per_s',
    );
    const ev = events.find((e) => e.type === 'eval:end') as BusEvent<'eval:end'>;
    expect(ev.metrics).to.include.keys('meanF1', 'mIoU', 'pixelAccuracy', 'perImage/meanF1/std');
    expect(ev.perClass).to.include.keys('c0', 'c1', 'c2');
    expect(r.steps).to.equal(4);
    expect(r.evaluation!.scores.meanF1).to.be.a('number');
    expect((await readCheckpointMeta(path.join(dir, 'ckpt')))!.step).to.equal(4);
    expect((await readdir(dir)).sort()).to.deep.equal(['ckpt']); // no temp or .old folders left
    agent.dispose();
    env.close();
  });

  it('leaks no tensors per step', async () => {
    const bus = new EventBus();
    const counts: number[] = [];
    bus.on('train:step').subscribe(() => counts.push(tf.memory().numTensors));
    for (const cfg of [
      { kind: 'reinforce', baseline: 'critic' },
      { kind: 'reinforce', baseline: 'self-critical', credit: 'difference' },
      { kind: 'supervised' },
    ]) {
      counts.length = 0;
      const agent = makeAgent(cfg);
      const env = makeEnv();
      await train(
        options(agent, env, bus, { steps: 6 }, { evalDataset: undefined, checkpointDir: undefined }),
      );
      expect(counts[5], JSON.stringify(cfg)).to.equal(counts[1]);
      agent.dispose();
      env.close();
    }
  });

  it('scores the greedy labelling in the same env step for self-critical, and splits it off', async () => {
    const bus = new EventBus();
    let scalars: Record<string, number> = {};
    bus.on('train:step').subscribe((e) => (scalars = e.scalars));
    const agent = makeAgent({ kind: 'reinforce', baseline: 'self-critical', samples: 3 }) as ReinforceAgent;
    const env = makeEnv();
    const before = env.steps;
    await train(options(agent, env, bus, { steps: 1 }, { evalDataset: undefined }));
    expect(env.steps - before).to.equal(1);
    // The greedy labelling was scored before the update, so check against its baseline: adv mean = mean(R) - mean(R_greedy).
    expect(scalars['baseline/mean']).to.be.closeTo(scalars['reward/greedy_mean'], 1e-6);
    expect(scalars['adv/mean']).to.be.closeTo(scalars['reward/mean'] - scalars['reward/greedy_mean'], 1e-6);
    agent.dispose();
    env.close();
  });

  it('resumes from its checkpoint exactly: the same weights and losses as an uninterrupted run', async () => {
    const cfg = { kind: 'reinforce', baseline: 'ema', samples: 2 };
    const full = makeAgent(cfg);
    const envA = makeEnv();
    const lossesA: number[] = [];
    const busA = new EventBus();
    busA.on('train:step').subscribe((e) => lossesA.push(e.scalars['losses/total']));
    await train(
      options(full, envA, busA, { steps: 6 }, { checkpointDir: path.join(dir, 'a'), evalDataset: undefined }),
    );

    // Interrupted: 3 steps, then a fresh process (new agent and env objects) resumes to 6.
    const part = makeAgent(cfg);
    await train(
      options(
        part,
        makeEnv(),
        new EventBus(),
        { steps: 3 },
        { checkpointDir: path.join(dir, 'b'), evalDataset: undefined },
      ),
    );
    part.dispose();
    const resumed = makeAgent(cfg);
    const envB = makeEnv();
    const lossesB: number[] = [];
    const busB = new EventBus();
    busB.on('train:step').subscribe((e) => lossesB.push(e.scalars['losses/total']));
    const r = await train(
      options(
        resumed,
        envB,
        busB,
        { steps: 6 },
        { checkpointDir: path.join(dir, 'b'), evalDataset: undefined },
      ),
    );
    expect(r.resumedFrom).to.equal(3);
    expect(lossesB).to.deep.equal(lossesA.slice(3));
    const wa = (full as ReinforceAgent).policy.trainableVariables.map((v) => Array.from(v.dataSync()));
    const wb = (resumed as ReinforceAgent).policy.trainableVariables.map((v) => Array.from(v.dataSync()));
    expect(wb).to.deep.equal(wa);
    expect((resumed as ReinforceAgent).ema).to.equal((full as ReinforceAgent).ema);
    [full, resumed].forEach((a) => a.dispose());
    [envA, envB].forEach((e) => e.close());
  });

  it('stops on a NaN reward with an error naming the step and the agent, keeping the last good checkpoint', async () => {
    let calls = 0;
    const env = makeEnv((p, t) => (++calls > 4 * 4 * 4 ? NaN : macroF1(C)(p, t)));
    const agent = makeAgent({ kind: 'reinforce', baseline: 'rloo', samples: 4 });
    const bus = new EventBus();
    const events = record(bus);
    const err = await refusal(
      train(options(agent, env, bus, { steps: 10, checkpointEvery: 2 }, { evalDataset: undefined })),
    );
    expect(err.message).to.match(
      /training of agent 'reinforce-rloo' stopped at step 5: the reward of image 0 is NaN/,
    );
    expect(err.hint).to.contain('the last good checkpoint (step 4) is kept');
    expect((await readCheckpointMeta(path.join(dir, 'ckpt')))!.step).to.equal(4);
    const end = events.at(-1) as BusEvent<'run:end'>;
    expect(end.type).to.equal('run:end');
    expect(end.status).to.equal('failed');
    expect(end.error).to.contain('step 5');
    agent.dispose();
    env.close();
  });

  it('trains the supervised and majority agents from the ground truth', async () => {
    for (const kind of ['supervised', 'majority']) {
      const agent = makeAgent({ kind, countBatches: 3 });
      const env = makeEnv();
      const r = await train(options(agent, env, new EventBus(), { steps: 30 }, { checkpointDir: undefined }));
      expect(r.evaluation!.scores.pixelAccuracy, kind).to.be.greaterThan(kind === 'supervised' ? 0.9 : 0.3);
      agent.dispose();
      env.close();
    }
  });

  it('counts the steps of an epoch-based config and tells the agent (cosine schedule, entropy decay)', async () => {
    const agent = makeAgent({ kind: 'supervised' });
    const env = makeEnv();
    const r = await train(
      options(
        agent,
        env,
        new EventBus(),
        { epochs: 2, schedule: { name: 'cosine' } },
        { trainSize: 16, evalDataset: undefined },
      ),
    );
    expect(r.steps).to.equal(8);
    expect(agent.plannedSteps).to.equal(8);
    agent.dispose();
    env.close();
  });

  it('refuses a checkpoint from a model of another size, and initFrom keeps the optimiser fresh', async () => {
    const agent = makeAgent({ kind: 'supervised' });
    await writeCheckpoint(path.join(dir, 'c'), agent, { step: 1, runId: 'r' });
    const other = createAgent(
      { kind: 'supervised' },
      new LinearPolicy({ height: 2, width: 2, numClasses: C }, new Rng(0)),
      {
        rng: new Rng(0),
      },
    );
    const err = await refusal(loadCheckpoint(path.join(dir, 'c'), other));
    expect(err.message).to.match(/different model size/);
    const rl = makeAgent({ kind: 'reinforce' }, 5);
    await initFromCheckpoint(rl, path.join(dir, 'c'));
    expect(rl.updates).to.equal(0);
    await refusal(initFromCheckpoint(rl, path.join(dir, 'nothing')));
    [agent, other, rl].forEach((a) => a.dispose());
  });

  it('keeps the previous checkpoint when a crash left only the `.old` copy', async () => {
    const agent = makeAgent({ kind: 'supervised' });
    const ck = path.join(dir, 'ck');
    await writeCheckpoint(ck, agent, { step: 1, runId: 'r' });
    // Simulate a crash between the two renames of the next save.
    const { rename } = await import('node:fs/promises');
    await rename(ck, `${ck}.old`);
    expect((await readCheckpointMeta(ck))!.step).to.equal(1);
    await writeCheckpoint(ck, agent, { step: 2, runId: 'r' });
    expect((await readCheckpointMeta(ck))!.step).to.equal(2);
    expect((await readdir(dir)).sort()).to.deep.equal(['ck']);
    agent.dispose();
  });
});

describe('evaluate', () => {
  before(() => useBackend('cpu'));

  it('streams the set in batches into one confusion matrix and returns a few pictures', async () => {
    const ds = evalSet();
    const agent = makeAgent({ kind: 'random' });
    const r = await evaluate(agent, ds, { batchSize: 5, pictures: 2, numClasses: C });
    expect(r.images).to.equal(16);
    expect(r.pictures.map((p) => p.id)).to.deep.equal(['s0', 's1']);
    // The same predictions counted directly give the same scores.
    const cm = new ConfusionMatrix(C, 255, ['c0', 'c1', 'c2']);
    const again = makeAgent({ kind: 'random' });
    for (let s = 0; s < 16; s += 5) {
      const n = Math.min(5, 16 - s);
      const imgs = tf.zeros([n, H, W, 3]) as tf.Tensor4D;
      const pred = (await again.act({ images: imgs, ids: [] }, 'greedy')).labels;
      imgs.dispose();
      const truth = new Uint8Array(n * H * W);
      for (let i = 0; i < n; i++) truth.set((await ds.get(s + i)).label, i * H * W);
      cm.add(pred, truth);
    }
    expect(r.scores.meanF1).to.equal(cm.scores().meanF1);
    expect(Array.from(r.pictures[0].prediction)).to.have.length(H * W);
  });
});

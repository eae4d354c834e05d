import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { useBackend } from '../helpers/backend.js';
import { EventBus } from '../../src/core/bus.js';
import { Rng } from '../../src/core/rng.js';
import { SyntheticFaces } from '../../src/data/index.js';
import { FaceTransformer, resolveViTConfig } from '../../agents/vit/index.js';
import { createAgent } from '../../agents/index.js';
import { FaceParsingEnv, type FaceParsingEnvOptions } from '../../envs/index.js';
import { registerBuiltinRewards } from '../../rewards/index.js';
import { resolveTrainingConfig } from '../../src/optim/config.js';
import { readCheckpointMeta } from '../../src/train/checkpoint.js';
import { train } from '../../src/train/trainer.js';
import type { ResetOptions } from '../../src/core/types.js';

/*
 * A run killed mid-way and resumed from its last checkpoint must be the run that was never
 * interrupted: the same losses step by step, the same faces in the same order (with the same
 * augmentation), the same final weights. Real env (FaceParsingEnv over SyntheticFaces, 16 px,
 * augmentation on), a tiny Face Transformer with dropout, a cosine schedule; 12 faces in
 * batches of 4, so the 8 steps cross two epoch boundaries and the resume starts mid-epoch.
 */
const SIZE = 16;
const STEPS = 8;
const VIT = resolveViTConfig({
  imageSize: SIZE,
  patchSize: 4,
  dim: 16,
  depth: 1,
  heads: 2,
  mlpDim: 32,
  dropout: 0.1,
});
const TRAINING = resolveTrainingConfig({
  steps: STEPS,
  batchSize: 4,
  optimizer: { lr: 3e-3 },
  schedule: { name: 'cosine', warmupSteps: 2 },
  checkpointEvery: 3,
  evalBatchSize: 8,
});

/** The real env, recording the ids it hands out; it can be made to die at the start of a step. */
class RecordingEnv extends FaceParsingEnv {
  readonly order: string[][] = [];
  private resets = 0;

  constructor(
    opts: FaceParsingEnvOptions,
    private readonly dieAtReset = Infinity,
  ) {
    super(opts);
  }

  override async reset(opts?: ResetOptions) {
    if (++this.resets === this.dieAtReset) throw new Error('killed');
    const r = await super.reset(opts);
    this.order.push(r.observation.ids);
    return r;
  }
}

interface Trace {
  /** Per step: losses/total and the ids of its faces. */
  losses: Map<number, number>;
  order: string[][];
  weights: number[][];
  evalF1: number;
  resumedFrom: number;
}

async function session(agentConfig: object, dir: string, dieAtReset = Infinity): Promise<Trace> {
  const bus = new EventBus();
  const env = new RecordingEnv(
    {
      id: 'SyntheticFaces-v0',
      dataset: new SyntheticFaces({ size: SIZE, count: 12, seed: 2 }),
      batchSize: 4,
      rng: new Rng(0, 'env'),
      bus,
      rewards: [{ name: 'dice', plugin: 'dice', weight: 1 }],
      augment: {},
    },
    dieAtReset,
  );
  const policy = new FaceTransformer(VIT, new Rng(0, 'model'));
  const agent = createAgent(agentConfig, policy, { rng: new Rng(0, 'agent'), training: TRAINING });
  const losses = new Map<number, number>();
  bus.on('train:step').subscribe((e) => losses.set(e.step, e.scalars['losses/total']));
  try {
    const r = await train({
      agent,
      env,
      bus,
      config: TRAINING,
      runId: 'r',
      seed: 0,
      evalDataset: new SyntheticFaces({ size: SIZE, count: 8, seed: 2, split: 'val' }),
      checkpointDir: dir,
    });
    const weights = policy.trainableVariables.map((v) => Array.from(v.dataSync()));
    return {
      losses,
      order: env.order,
      weights,
      evalF1: r.evaluation!.scores.meanF1,
      resumedFrom: r.resumedFrom,
    };
  } finally {
    agent.dispose();
    env.close();
  }
}

describe('trainer: exact resume on the real env', function () {
  this.timeout(30000);
  let tmp: string;
  before(async () => {
    await useBackend('cpu');
    registerBuiltinRewards();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'fprl-resume-'));
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  const agents: Record<string, object> = {
    'cross-entropy (dropout on)': { kind: 'supervised' },
    'REINFORCE (rloo, difference credit)': {
      kind: 'reinforce',
      baseline: 'rloo',
      samples: 2,
      credit: 'difference',
      entropySchedule: 'linear',
    },
  };
  for (const [name, config] of Object.entries(agents)) {
    it(`a run killed at step 5 and resumed reproduces the uninterrupted losses and data order: ${name}`, async () => {
      const dir = (tag: string) => path.join(tmp, `${name.split(' ')[0]}-${tag}`);
      const full = await session(config, dir('full'));
      expect(full.losses.size).to.equal(STEPS);

      // Killed at the start of step 5: the checkpoint of step 3 is what survives.
      let killed: unknown;
      await session(config, dir('cut'), 5).catch((e) => (killed = e));
      expect(String(killed)).to.contain('stopped at step 5');
      expect((await readCheckpointMeta(dir('cut')))?.step).to.equal(3);

      const resumed = await session(config, dir('cut'));
      expect(resumed.resumedFrom).to.equal(3);
      expect(resumed.order, 'faces of steps 4-8, in order').to.deep.equal(full.order.slice(3));
      expect([...resumed.losses.entries()]).to.deep.equal([...full.losses.entries()].slice(3));
      expect(resumed.weights).to.deep.equal(full.weights);
      expect(resumed.evalF1).to.equal(full.evalF1);
      // The steps crossed epochs, so the order is a real test (not one batch repeated).
      expect(new Set(full.order.flat()).size).to.equal(12);
    });
  }
});

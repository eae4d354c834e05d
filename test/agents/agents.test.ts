import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { leakedTensors, useBackend } from '../helpers/backend.js';
import { Rng } from '../../src/core/rng.js';
import { FprlError } from '../../src/core/errors.js';
import type { PolicyNet } from '../../src/core/types.js';
import {
  LinearPolicy,
  ReinforceAgent,
  SupervisedAgent,
  MajorityAgent,
  RandomAgent,
  agentRegistry,
  createAgent,
  registerBuiltinAgents,
  resolveAgentConfig,
  type FprlAgent,
  type RlExperience,
  type AgentConfig,
} from '../../agents/index.js';
import { FaceTransformer, resolveViTConfig } from '../../agents/vit/index.js';
import { TinyEnv, accuracy, colourWorld, correctness, macroF1 } from './fakes.js';

const H = 4;
const W = 4;
const C = 3;

function env(batchSize = 4, seed = 0): TinyEnv {
  const world = colourWorld(12, H, W, seed);
  return new TinyEnv({
    ...world,
    height: H,
    width: W,
    batchSize,
    numClasses: C,
    reward: macroF1(C),
    pixelCredit: correctness,
  });
}

/** One experience as the trainer builds it for `agent`. */
async function experience(agent: FprlAgent, e: TinyEnv): Promise<RlExperience> {
  const { observation } = await e.reset();
  const exp: RlExperience = { observation, target: e.optimalAction() };
  const { needs } = agent;
  if (needs.reward) {
    exp.action = await agent.act(observation, 'sample', needs.samples);
    exp.result = await e.step(exp.action.labels, { pixelCredit: needs.pixelCredit });
    if (needs.greedyReward) {
      const g = await e.step((await agent.act(observation, 'greedy')).labels, {
        pixelCredit: needs.pixelCredit,
      });
      exp.greedyReward = g.reward;
      exp.greedyPixelReward = g.pixelReward;
    }
  }
  return exp;
}

async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<FprlError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(FprlError);
    expect((e as Error).message).to.match(pattern);
    return e as FprlError;
  }
  throw new Error('expected a rejection');
}

const RL_CONFIGS = [
  { baseline: 'none', credit: 'image' },
  { baseline: 'ema', credit: 'image' },
  { baseline: 'self-critical', credit: 'image' },
  { baseline: 'rloo', credit: 'image' },
  { baseline: 'critic', credit: 'image' },
  { baseline: 'rloo', credit: 'pixel' },
  { baseline: 'self-critical', credit: 'difference' },
  { baseline: 'critic', credit: 'pixel', normalizeAdvantage: true },
] as const;

describe('agents', () => {
  before(() => useBackend('cpu'));

  describe('config', () => {
    it('fills the defaults from the schema', () => {
      const c = resolveAgentConfig({ kind: 'reinforce' });
      expect(c).to.include({
        baseline: 'rloo',
        credit: 'image',
        samples: 4,
        entropyCoef: 0.01,
        ignoreIndex: 255,
      });
    });

    it('lists every problem with its JSON path', () => {
      try {
        resolveAgentConfig({ kind: 'reinforce', baseline: 'mean', samples: 0, bogus: 1 }, 'agents[1]');
        expect.fail('should throw');
      } catch (e) {
        const msg = (e as FprlError).message;
        expect(msg).to.contain("agents[1].bogus: unknown key 'bogus'; allowed keys: kind,");
        expect(msg).to.match(/agents\[1\]\.baseline: must be one of 'none', 'ema', .* \(got 'mean'\)/);
        expect(msg).to.contain('agents[1].samples: must be >= 1');
      }
    });

    it('refuses rloo with one sample and class weights of the wrong length, naming the field', () => {
      expect(() => resolveAgentConfig({ kind: 'reinforce', baseline: 'rloo', samples: 1 })).to.throw(
        FprlError,
        /at least 2 samples/,
      );
      expect(() => resolveAgentConfig({ kind: 'supervised', classWeights: [1, 2] })).to.throw(
        FprlError,
        /2 entries, there are 11/,
      );
    });

    it('creates every registered kind through the registry and names the kinds on an unknown one', () => {
      registerBuiltinAgents();
      registerBuiltinAgents(); // idempotent
      expect(agentRegistry.names()).to.deep.equal(['majority', 'random', 'reinforce', 'supervised']);
      const p = new LinearPolicy({ height: H, width: W, numClasses: C }, new Rng(0));
      const a = createAgent({ kind: 'supervised' }, p, { rng: new Rng(0) });
      expect(a).to.be.instanceOf(SupervisedAgent);
      a.dispose();
      expect(() => createAgent({ kind: 'reinforce' }, undefined, { rng: new Rng(0) })).to.throw(
        FprlError,
        /needs a policy network/,
      );
      expect(createAgent({ kind: 'majority' }, undefined, { rng: new Rng(0) })).to.be.instanceOf(
        MajorityAgent,
      );
    });
  });

  describe('SupervisedAgent', () => {
    /** Logits are the policy's per-position bias (zero images). */
    function fixed(config: object, logits: number[][]): { agent: SupervisedAgent; images: tf.Tensor4D } {
      const policy = new LinearPolicy({ height: 1, width: 2, numClasses: C }, new Rng(0));
      policy.bias.assign(tf.tensor3d(logits.flat(), [1, 2, C]));
      const cfg = resolveAgentConfig<AgentConfig>({ kind: 'supervised', ...config }, 'agent', C);
      return { agent: new SupervisedAgent(cfg, policy, { rng: new Rng(0) }), images: tf.zeros([1, 1, 2, 3]) };
    }
    const logp = (z: number[], c: number) => z[c] - Math.log(z.reduce((s, v) => s + Math.exp(v), 0));
    const Z = [
      [1, 0, -1],
      [0, 2, 0],
    ];

    it('gives the hand-computed cross-entropy, leaving out ignored pixels', async () => {
      const { agent, images } = fixed({}, Z);
      const info = await agent.learn({
        observation: { images, ids: ['a'] },
        target: Int32Array.from([0, 255]),
      });
      expect(info['losses/ce']).to.be.closeTo(-logp(Z[0], 0), 1e-5);
      agent.dispose();
      images.dispose();
    });

    it('weights classes and smooths labels as documented', async () => {
      const { agent, images } = fixed({ classWeights: [1, 3, 1], labelSmoothing: 0.3 }, Z);
      const info = await agent.learn({
        observation: { images, ids: ['a'] },
        target: Int32Array.from([0, 1]),
      });
      // Row weight w[t]; target (1 - eps) onehot + eps / C; normalised by the sum of row weights.
      const row = (z: number[], t: number) =>
        -[0, 1, 2].reduce((s, c) => s + ((c === t ? 0.7 : 0) + 0.1) * logp(z, c), 0);
      expect(info['losses/ce']).to.be.closeTo((1 * row(Z[0], 0) + 3 * row(Z[1], 1)) / 4, 1e-5);
      agent.dispose();
      images.dispose();
    });

    it('names a target label outside the classes', async () => {
      const { agent, images } = fixed({}, Z);
      await rejects(
        agent.learn({ observation: { images, ids: ['a'] }, target: Int32Array.from([0, 7]) }),
        /target label 7/,
      );
      await rejects(agent.learn({ observation: { images, ids: ['a'] } }), /needs ground truth/);
      agent.dispose();
      images.dispose();
    });

    it('learns a per-pixel colour rule (greedy accuracy 1 after training)', async () => {
      const e = env(8);
      const policy = new LinearPolicy({ height: H, width: W, numClasses: C }, new Rng(0));
      const training = { batchSize: 8, optimizer: { name: 'adam', lr: 0.05 } };
      const agent = createAgent({ kind: 'supervised' }, policy, {
        rng: new Rng(1),
        training: training as never,
      }) as FprlAgent;
      for (let i = 0; i < 60; i++) await agent.learn(await experience(agent, e));
      const { observation } = await e.reset();
      expect(accuracy((await agent.act(observation, 'greedy')).labels, e.optimalAction())).to.equal(1);
      agent.dispose();
      e.close();
    });
  });

  describe('ReinforceAgent', () => {
    for (const cfg of RL_CONFIGS) {
      const label = `${cfg.baseline}/${cfg.credit}${'normalizeAdvantage' in cfg ? '/normalised' : ''}`;
      it(`(${label}) moves every trainable variable in one update, and leaks no tensors`, async () => {
        const e = env();
        const policy = new LinearPolicy({ height: H, width: W, numClasses: C }, new Rng(0));
        const agent = createAgent({ kind: 'reinforce', ...cfg }, policy, {
          rng: new Rng(1),
        }) as ReinforceAgent;
        await agent.learn(await experience(agent, e)); // creates the critic and the optimiser slots
        const before = agent['variables'].map((v) => v.arraySync());
        // act keeps its forward pass for learn, which frees it: a step leaks nothing as a whole.
        const leaked = await leakedTensors(async () => {
          const exp = await experience(agent, e);
          const info = await agent.learn(exp);
          expect(Object.values(info).every(Number.isFinite)).to.equal(true);
          expect(info['grad/norm']).to.be.greaterThan(0);
        });
        expect(leaked).to.equal(0);
        const after = agent['variables'].map((v) => v.arraySync());
        after.forEach((a, i) => expect(a, agent['variables'][i].name).to.not.deep.equal(before[i]));
        if (cfg.baseline === 'critic') expect(agent.valueHead).to.not.equal(undefined);
        agent.dispose();
        e.close();
      });
    }

    it('gives a non-zero policy gradient for every policy variable (no gradient-free path)', async () => {
      const e = env();
      const policy = new LinearPolicy({ height: H, width: W, numClasses: C }, new Rng(0));
      const agent = createAgent({ kind: 'reinforce', baseline: 'none' }, policy, {
        rng: new Rng(2),
      }) as ReinforceAgent;
      const { grads } = await agent.policyGradient(await experience(agent, e));
      grads.forEach((g) => expect(tf.tidy(() => g.abs().max().dataSync()[0])).to.be.greaterThan(0));
      tf.dispose(grads);
      agent.dispose();
      e.close();
    });

    it('says what is missing: action, greedy reward, per-pixel credit, enough samples', async () => {
      const e = env();
      const mk = (c: object) =>
        createAgent(
          { kind: 'reinforce', ...c },
          new LinearPolicy({ height: H, width: W, numClasses: C }, new Rng(0)),
          {
            rng: new Rng(0),
          },
        ) as ReinforceAgent;
      const { observation } = await e.reset();
      const a = mk({ baseline: 'none' });
      await rejects(a.learn({ observation }), /needs the sampled action/);
      const action = await a.act(observation, 'sample', 1);
      const result = await e.step(action.labels);
      await rejects(
        mk({ baseline: 'self-critical' }).learn({ observation, action, result }),
        /greedy labelling/,
      );
      await rejects(
        mk({ baseline: 'none', credit: 'difference' }).learn({ observation, action, result }),
        /needs per-pixel credit/,
      );
      await rejects(mk({ baseline: 'rloo' }).learn({ observation, action, result }), /at least 2 samples/);
      const nan = { ...result, reward: Float32Array.from(result.reward, () => NaN) };
      await rejects(a.learn({ observation, action, result: nan }), /reward is not finite/);
      e.close();
    });

    it('refuses to apply a non-finite update and leaves the weights as they were', async () => {
      const e = env();
      const policy = new LinearPolicy({ height: H, width: W, numClasses: C }, new Rng(0));
      const agent = createAgent({ kind: 'reinforce', baseline: 'none' }, policy, {
        rng: new Rng(0),
      }) as ReinforceAgent;
      const exp = await experience(agent, e);
      policy.kernel.assign(tf.fill([3, C], NaN));
      const before = policy.bias.arraySync();
      const err = await rejects(agent.learn(exp), /non-finite loss/);
      expect(err.where).to.contain("agent 'reinforce-none'");
      expect(policy.bias.arraySync()).to.deep.equal(before);
      expect(agent.updates).to.equal(0);
      agent.dispose();
      e.close();
    });

    it('decays the entropy coefficient linearly when asked', () => {
      const policy = new LinearPolicy({ height: H, width: W, numClasses: C }, new Rng(0));
      const agent = createAgent(
        { kind: 'reinforce', entropyCoef: 0.1, entropySchedule: 'linear', entropyFinalCoef: 0 },
        policy,
        { rng: new Rng(0), totalSteps: 11 },
      ) as ReinforceAgent;
      expect(agent.entropyCoef).to.equal(0.1);
      agent.updates = 5;
      expect(agent.entropyCoef).to.be.closeTo(0.05, 1e-12);
      agent.updates = 10;
      expect(agent.entropyCoef).to.be.closeTo(0, 1e-12);
      agent.dispose();
    });
  });

  describe('reference agents', () => {
    it('random: uniform labels from the seeded stream, the same for the same seed', async () => {
      const images = tf.zeros([2, 8, 8, 3]) as tf.Tensor4D;
      const a = new RandomAgent(resolveAgentConfig<AgentConfig>({ kind: 'random' }), {
        rng: new Rng(5),
        numClasses: 11,
      });
      const b = new RandomAgent(resolveAgentConfig<AgentConfig>({ kind: 'random' }), {
        rng: new Rng(5),
        numClasses: 11,
      });
      const la = (await a.act({ images, ids: [] }, 'greedy')).labels;
      expect(Array.from(la)).to.deep.equal(Array.from((await b.act({ images, ids: [] }, 'greedy')).labels));
      const counts = new Array(11).fill(0);
      for (const x of la) counts[x]++;
      expect(Math.min(...counts)).to.be.greaterThan(0);
      expect((await a.act({ images, ids: [] }, 'sample', 3)).labels.length).to.equal(3 * 128);
      images.dispose();
    });

    it("majority: each position's most frequent training class, counted over countBatches batches", async () => {
      const images = tf.zeros([2, 1, 3, 3]) as tf.Tensor4D;
      const agent = new MajorityAgent(
        resolveAgentConfig<AgentConfig>({ kind: 'majority', countBatches: 2 }),
        {
          rng: new Rng(0),
        },
      );
      expect(Array.from((await agent.act({ images, ids: [] }, 'greedy')).labels)).to.deep.equal([
        0, 0, 0, 0, 0, 0,
      ]);
      await agent.learn({
        observation: { images, ids: [] },
        target: Int32Array.from([1, 2, 255, 1, 3, 255]),
      });
      await agent.learn({ observation: { images, ids: [] }, target: Int32Array.from([4, 3, 255, 1, 3, 5]) });
      // A third batch is not counted.
      await agent.learn({ observation: { images, ids: [] }, target: Int32Array.from([4, 4, 4, 4, 4, 4]) });
      expect(Array.from((await agent.act({ images, ids: [] }, 'greedy')).labels)).to.deep.equal([
        1, 3, 5, 1, 3, 5,
      ]);
      const other = tf.zeros([1, 2, 2, 3]) as tf.Tensor4D;
      await rejects(agent.act({ images: other, ids: [] }, 'greedy'), /counts were made at 1x3/);
      tf.dispose([images, other]);
    });
  });

  describe('save and load', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'fprl-agent-'));
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    for (const cfg of [
      { kind: 'supervised' },
      { kind: 'reinforce', baseline: 'ema' },
      { kind: 'reinforce', baseline: 'critic' },
      { kind: 'majority' },
      { kind: 'random' },
    ] as const) {
      it(`restores a ${cfg.kind}${'baseline' in cfg ? `-${cfg.baseline}` : ''} agent exactly: same weights, state and next loss`, async () => {
        const make = () => {
          const policy = new LinearPolicy({ height: H, width: W, numClasses: C }, new Rng(0));
          return createAgent(
            cfg,
            cfg.kind === 'supervised' || cfg.kind === 'reinforce' ? policy : undefined,
            {
              rng: new Rng(3),
              numClasses: C,
            },
          ) as FprlAgent;
        };
        const e = env(4, 1);
        const a = make();
        for (let i = 0; i < 3; i++) await a.learn(await experience(a, e));
        await a.save(dir);
        const b = make();
        await b.load(dir);
        expect(b.updates).to.equal(a.updates);
        // Same stream, same weights, same optimiser state: the next step matches to the bit.
        const e1 = env(4, 7);
        const e2 = env(4, 7);
        const ia = await a.learn(await experience(a, e1));
        const ib = await b.learn(await experience(b, e2));
        expect(ib).to.deep.equal(ia);
        const { observation } = await e1.reset();
        expect(Array.from((await b.act(observation, 'sample', 2)).labels)).to.deep.equal(
          Array.from((await a.act(observation, 'sample', 2)).labels),
        );
        if (a instanceof ReinforceAgent) expect((b as ReinforceAgent).ema).to.equal(a.ema);
        [a, b].forEach((x) => x.dispose());
        [e, e1, e2].forEach((x) => x.close());
      });
    }

    it('refuses weights from a model of another size, naming the variable and shapes', async () => {
      const small = createAgent(
        { kind: 'supervised' },
        new LinearPolicy({ height: H, width: W, numClasses: C }, new Rng(0)),
        {
          rng: new Rng(0),
        },
      );
      await small.save(dir);
      const big = createAgent(
        { kind: 'supervised' },
        new LinearPolicy({ height: 8, width: 8, numClasses: C }, new Rng(0)),
        {
          rng: new Rng(0),
        },
      );
      const err = await rejects(big.load(dir), /shape \[4,4,3\] in the checkpoint but \[8,8,3\]/);
      expect(err.hint).to.contain('same model configuration');
      await rejects((big as FprlAgent).initFrom(dir), /different model size/);
      const rl = createAgent(
        { kind: 'reinforce' },
        new LinearPolicy({ height: H, width: W, numClasses: C }, new Rng(0)),
        {
          rng: new Rng(0),
        },
      );
      await rejects(rl.load(dir), /'supervised' agent, this one is 'reinforce'/);
      [small, big, rl].forEach((x) => x.dispose());
    });

    it('initFrom takes only the policy weights (cross-entropy first, then REINFORCE)', async () => {
      const ce = createAgent(
        { kind: 'supervised' },
        new LinearPolicy({ height: H, width: W, numClasses: C }, new Rng(1)),
        {
          rng: new Rng(0),
        },
      ) as FprlAgent;
      const e = env();
      await ce.learn(await experience(ce, e));
      await ce.save(dir);
      const policy = new LinearPolicy({ height: H, width: W, numClasses: C }, new Rng(2));
      const rl = createAgent({ kind: 'reinforce' }, policy, { rng: new Rng(0) }) as ReinforceAgent;
      await rl.initFrom(dir);
      const src = (ce as SupervisedAgent).policy.trainableVariables;
      policy.trainableVariables.forEach((v, i) => expect(v.arraySync()).to.deep.equal(src[i].arraySync()));
      expect(rl.updates).to.equal(0);
      [ce, rl].forEach((x) => x.dispose());
      e.close();
    });
  });

  describe('with the Face Transformer', () => {
    const MICRO = resolveViTConfig({ imageSize: 16, patchSize: 4, dim: 16, depth: 1, heads: 2, mlpDim: 32 });
    it('saves the ViT in its own format inside the agent, restores it exactly, and refuses another size', async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'fprl-vit-agent-'));
      try {
        const world = colourWorld(4, 16, 16, 3);
        const mk = () =>
          new TinyEnv({ ...world, height: 16, width: 16, batchSize: 2, numClasses: 11, reward: macroF1(11) });
        const make = (config = MICRO) =>
          createAgent({ kind: 'reinforce', baseline: 'critic' }, new FaceTransformer(config, new Rng(0)), {
            rng: new Rng(1),
          }) as ReinforceAgent;
        const a = make();
        const e = mk();
        await a.learn(await experience(a, e));
        await a.save(dir);
        expect(await readdir(path.join(dir, 'policy'))).to.include.members([
          'model.json',
          'weights.bin',
          'variables.json',
        ]);
        const b = make();
        await b.load(dir);
        const [e1, e2] = [mk(), mk()];
        // (Each env holds its last observation: reset once so the step below only replaces it.)
        await Promise.all([e1.reset(), e2.reset()]);
        let infoA = {};
        // A whole step (act keeps its pass, learn frees it) leaks nothing.
        const leaked = await leakedTensors(async () => {
          infoA = await a.learn(await experience(a, e1));
        });
        expect(leaked).to.equal(0);
        expect(await b.learn(await experience(b, e2))).to.deep.equal(infoA);
        const wider = make(resolveViTConfig({ ...MICRO, dim: 24, mlpDim: 48 }));
        await rejects(
          wider.load(dir),
          /in the checkpoint but \[.*24.*\] in this model.*different model size/,
        );
        [a, b, wider].forEach((x) => x.dispose());
        [e, e1, e2].forEach((x) => x.close());
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    for (const backend of ['cpu', 'wasm'] as const) {
      it(`trains every ViT variable with cross-entropy and with REINFORCE on ${backend}`, async function () {
        this.timeout(60000);
        await useBackend(backend);
        try {
          const world = colourWorld(4, 16, 16, 3);
          const e = new TinyEnv({
            ...world,
            height: 16,
            width: 16,
            batchSize: 2,
            numClasses: 11,
            reward: macroF1(11),
          });
          for (const cfg of [{ kind: 'supervised' }, { kind: 'reinforce', baseline: 'critic' }]) {
            const policy: PolicyNet = new FaceTransformer(MICRO, new Rng(0));
            const agent = createAgent(cfg, policy, { rng: new Rng(1) }) as FprlAgent;
            await agent.learn(await experience(agent, e));
            const vars = (agent as SupervisedAgent)['variables'];
            const before = vars.map((v) => v.dataSync().slice());
            await agent.learn(await experience(agent, e));
            vars.forEach((v, i) =>
              expect(Array.from(v.dataSync()), `${cfg.kind}: ${v.name}`).to.not.deep.equal(
                Array.from(before[i]),
              ),
            );
            agent.dispose();
          }
          e.close();
        } finally {
          await useBackend('cpu');
        }
      });
    }
  });
});

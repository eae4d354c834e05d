/**
 * `initLogitAdjustment`: a fine-tune starts from a class-weighted parser with log(w_c) subtracted
 * from its output bias, so it starts deciding by the pixels' own probabilities; and `initWeights`
 * takes another sweep's run (its checkpoints folder) as the starting point.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend.js';
import { runSweep } from '../../src/experiment/runner.js';
import { loadExperiment } from '../../src/experiment/load.js';
import { loadPolicyFromCheckpoint } from '../../src/train/checkpoint.js';
import { buildPolicyNet } from '../../agents/nets/registry.js';
import { createAgent } from '../../agents/registry.js';
import { FaceTransformer, HybridFaceTransformer, resolveViTConfig } from '../../agents/vit/index.js';
import { TINY_HYBRID } from '../vit/fixtures.js';
import { LinearPolicy } from '../../agents/nets/linear.js';
import type { PolicyAgent } from '../../agents/policy-agent.js';
import { Rng } from '../../src/core/rng.js';
import { FprlError } from '../../src/core/errors.js';
import type { PolicyNet } from '../../src/core/types.js';

const WEIGHTS = [0.2, 0.3, 1.2, 1.3, 1.7, 1.6, 0.6, 1.4, 1.5, 1.1, 0.25];

const MODEL = { preset: 'tiny-64', patchSize: 4, dim: 16, depth: 1, heads: 2, mlpDim: 32, dropout: 0 };
const DATA = { kind: 'synthetic', size: 16, train: 8, val: 4, test: 4, seed: 0 };
const TRAINING = { steps: 2, batchSize: 4, evalEvery: 2, checkpointEvery: 2, optimizer: { name: 'sgd', lr: 0.1 } };

function write(dir: string, name: string, config: Record<string, unknown>): string {
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}

async function loadError(file: string): Promise<string> {
  try {
    await loadExperiment(file);
  } catch (e) {
    return (e as Error).message;
  }
  return '';
}

describe('initLogitAdjustment and initWeights from another run', function () {
  this.timeout(120_000);
  let tmp: string;
  before(async () => {
    await useBackend('cpu');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fprl-init-adjust-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (const [name, make] of [
    [
      'Face Transformer',
      () =>
        new FaceTransformer(
          resolveViTConfig({ imageSize: 8, patchSize: 4, dim: 16, depth: 1, heads: 2, mlpDim: 32 }),
          new Rng(1),
        ),
    ],
    [
      'hybrid',
      () =>
        new HybridFaceTransformer(
          TINY_HYBRID,
          new Rng(1),
        ),
    ],
  ] as [string, () => PolicyNet][]) {
    it(`moves every pixel's logits of a ${name} by the shift, so the argmax is the adjusted one`, () => {
      const policy = make();
      const size = name === 'hybrid' ? 16 : 8;
      const agent = createAgent({ kind: 'reinforce' }, policy, { rng: new Rng(2) }) as PolicyAgent;
      const images = tf.randomUniform([2, size, size, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
      const delta = WEIGHTS.map((w) => -Math.log(w));
      try {
        const logits = () => tf.tidy(() => policy.apply(images).logits);
        const before = logits();
        agent.shiftClassBias(delta, '/agents/1/initLogitAdjustment');
        const after = logits();
        const worst = tf.tidy(() => tf.max(tf.abs(tf.sub(after, tf.add(before, tf.tensor1d(delta))))));
        expect(worst.dataSync()[0]).to.be.below(1e-5);
        tf.dispose([before, after, worst]);
      } finally {
        images.dispose();
        agent.dispose();
      }
    });
  }

  it('refuses a policy without a per-class output bias, naming the field', () => {
    const agent = createAgent({ kind: 'reinforce' }, new LinearPolicy({ height: 4, width: 4 }, new Rng(0)), {
      rng: new Rng(0),
    }) as PolicyAgent;
    try {
      expect(() => agent.shiftClassBias(WEIGHTS, '/agents/1/initLogitAdjustment'))
        .to.throw(FprlError, /no per-class output bias/)
        .with.property('where', '/agents/1/initLogitAdjustment');
    } finally {
      agent.dispose();
    }
  });

  it("starts a fine-tune from another sweep's checkpoints with log(w) subtracted from the output bias, everything else as trained", async () => {
    const source = write(tmp, 'source', {
      name: 'source',
      dataset: DATA,
      model: MODEL,
      training: TRAINING,
      agents: [{ name: 'ce', kind: 'supervised', classWeights: WEIGHTS }],
      seeds: [0],
      evaluation: { pictures: 0, batchSize: 4 },
    });
    const sourceOut = path.join(tmp, 'source-run');
    const first = await runSweep({ experiment: source, out: sourceOut, progress: 'none', backend: 'cpu', print: () => undefined });
    expect(first.results.map((r) => r.status)).to.deep.equal(['ok']);
    const from = path.join(sourceOut, 'ce', 'seed-0', 'checkpoints');
    const tune = write(tmp, 'tune', {
      name: 'tune',
      dataset: DATA,
      model: MODEL,
      // One update at a negligible rate: the run's weights are its starting weights.
      training: { ...TRAINING, steps: 1, evalEvery: 1, checkpointEvery: 1, optimizer: { name: 'sgd', lr: 1e-12 } },
      agents: [
        {
          name: 'rl',
          kind: 'reinforce',
          rewards: [{ plugin: 'dice' }],
          initWeights: path.relative(tmp, from),
          initLogitAdjustment: WEIGHTS,
        },
      ],
      seeds: [0],
      evaluation: { pictures: 0, batchSize: 4 },
    });
    const tuneOut = path.join(tmp, 'tune-run');
    const second = await runSweep({ experiment: tune, out: tuneOut, progress: 'none', backend: 'cpu', print: () => undefined });
    expect(second.results.map((r) => r.status)).to.deep.equal(['ok']);

    const exp = await loadExperiment(tune);
    const load = async (dir: string) => {
      const policy = buildPolicyNet(exp.model, new Rng(9));
      await loadPolicyFromCheckpoint(policy, dir);
      const named = (policy as unknown as { namedVariables: { name: string; variable: tf.Variable }[] }).namedVariables;
      const out = new Map(named.map((n) => [n.name, Float32Array.from(n.variable.dataSync() as Float32Array)]));
      policy.dispose();
      return out;
    };
    const [a, b] = [await load(from), await load(path.join(tuneOut, 'rl', 'seed-0', 'checkpoints'))];
    expect([...b.keys()]).to.deep.equal([...a.keys()]);
    for (const [name, want] of a) {
      const got = b.get(name)!;
      const shifted = name === 'head/bias' ? want.map((v, c) => v - Math.log(WEIGHTS[c])) : want;
      let diff = 0;
      for (let i = 0; i < got.length; i++) diff = Math.max(diff, Math.abs(got[i] - shifted[i]));
      expect(diff, name).to.be.below(1e-5);
    }
    expect(Math.abs(b.get('head/bias')![4] - a.get('head/bias')![4])).to.be.closeTo(Math.log(1.7), 1e-5);
  });

  it('refuses, naming the field: nothing to adjust, no class weights at the source, the wrong count, an agent without a policy', async () => {
    const base = (agents: unknown[]) => ({
      name: 'bad',
      dataset: DATA,
      model: MODEL,
      training: TRAINING,
      agents,
      seeds: [0],
    });
    const ce = { name: 'ce', kind: 'supervised' };
    const cases: [string, unknown[], RegExp][] = [
      [
        'alone',
        [{ name: 'rl', kind: 'reinforce', rewards: [{ plugin: 'dice' }], initLogitAdjustment: WEIGHTS }],
        /\/agents\/0\/initLogitAdjustment: there are no starting weights to adjust: give initFrom or initWeights too/,
      ],
      [
        'unweighted',
        [ce, { name: 'rl', kind: 'reinforce', rewards: [{ plugin: 'dice' }], initFrom: 'ce', initLogitAdjustment: true }],
        /\/agents\/1\/initLogitAdjustment: 'ce' was trained without classWeights/,
      ],
      [
        'count',
        [ce, { name: 'rl', kind: 'reinforce', rewards: [{ plugin: 'dice' }], initFrom: 'ce', initLogitAdjustment: [1, 2] }],
        /\/agents\/1\/initLogitAdjustment: 2 class weights for 11 classes/,
      ],
      [
        'majority',
        [ce, { name: 'floor', kind: 'majority', initFrom: 'ce', initLogitAdjustment: WEIGHTS }],
        /\/agents\/1\/initLogitAdjustment: a majority agent has no policy network to adjust/,
      ],
    ];
    for (const [name, agents, pattern] of cases) {
      expect(await loadError(write(tmp, `bad-${name}`, base(agents))), name).to.match(pattern);
    }
  });
});

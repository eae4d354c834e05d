/**
 * An experiment starts an agent from `fprl import`'s folder (`"initWeights"`), and `fprl export`
 * takes the run folder back to PyTorch names: import -> fine-tune -> export in one loop.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { useBackend } from '../helpers/backend.js';
import { runSweep } from '../../src/experiment/runner.js';
import { loadExperiment } from '../../src/experiment/load.js';
import { readSafetensors } from '../../src/interop/index.js';
import { exportWeights, importWeights } from '../../src/train/interop.js';
import { FIXTURES } from '../fixtures/torch/export-for-check.js';

function experiment(initWeights: string, model: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'from-pytorch',
    dataset: { kind: 'synthetic', size: 16, train: 8, val: 4, test: 4, seed: 0 },
    // The fixture's architecture: image 16, patch 4, dim 16, depth 2, heads 2, mlp 32, pre-norm.
    model: { preset: 'tiny-64', patchSize: 4, dim: 16, depth: 2, heads: 2, mlpDim: 32, dropout: 0, ...model },
    training: {
      steps: 1,
      batchSize: 4,
      evalEvery: 1,
      checkpointEvery: 1,
      optimizer: { name: 'sgd', lr: 1e-12 },
    },
    agents: [{ name: 'rl', kind: 'reinforce', baseline: 'ema', rewards: [{ plugin: 'dice' }], initWeights }],
    seeds: [0],
    evaluation: { pictures: 0, batchSize: 4 },
  };
}

describe('experiments start from imported PyTorch weights (initWeights)', function () {
  this.timeout(60_000);
  let tmp: string;
  before(async () => {
    await useBackend('cpu');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fprl-initweights-'));
    await importWeights(path.join(FIXTURES, 'reference-pre.safetensors'), path.join(tmp, 'imported'), {
      heads: 2,
    });
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('runs a REINFORCE agent from the imported folder (relative to the experiment file) and exports the run to PyTorch names', async () => {
    const file = path.join(tmp, 'exp.json');
    fs.writeFileSync(file, JSON.stringify(experiment('imported')));
    const out = path.join(tmp, 'runs');
    const outcome = await runSweep({
      experiment: file,
      out,
      progress: 'none',
      backend: 'cpu',
      print: () => undefined,
    });
    expect(outcome.results.map((r) => r.status)).to.deep.equal(['ok']);
    const st = path.join(tmp, 'back.safetensors');
    await exportWeights(path.join(out, 'rl', 'seed-0'), 'safetensors', st);
    const [mine, theirs] = await Promise.all([
      readSafetensors(st),
      readSafetensors(path.join(FIXTURES, 'reference-pre.safetensors')),
    ]);
    const byName = new Map(theirs.tensors.map((t) => [t.name, t]));
    expect(mine.tensors.map((t) => t.name).sort()).to.deep.equal([...byName.keys()].sort());
    for (const t of mine.tensors) {
      const [a, b] = [await t.read(), await byName.get(t.name)!.read()];
      expect(t.shape, t.name).to.deep.equal(byName.get(t.name)!.shape);
      let diff = 0;
      for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
      expect(diff, t.name).to.be.below(1e-6); // one SGD step at lr 1e-12
    }
  });

  it('refuses at load time an imported architecture that differs from /model, naming the fields', async () => {
    const file = path.join(tmp, 'bad.json');
    fs.writeFileSync(file, JSON.stringify(experiment('imported', { heads: 4, normFirst: false })));
    let message = '';
    try {
      await loadExperiment(file);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).to.match(
      /\/agents\/0\/initWeights: the imported model differs from \/model: heads 2 there, 4 here; normFirst true there, false here/,
    );
  });

  it('refuses a folder not written by fprl import', async () => {
    const file = path.join(tmp, 'missing.json');
    fs.writeFileSync(file, JSON.stringify(experiment('nowhere')));
    let message = '';
    try {
      await loadExperiment(file);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).to.match(/\/agents\/0\/initWeights: .*nowhere: not a folder made by fprl import/);
  });
});

import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Rng } from '../../src/core/rng.js';
import { useBackend } from '../helpers/backend.js';
import { FaceTransformer, paramSpecs, resolveViTConfig, type ViTConfig } from '../../agents/vit/index.js';
import { MICRO, images, maxAbsDiff } from './fixtures.js';
import { refusal } from '../helpers/refusal.js';

describe('FaceTransformer checkpoints', () => {
  let dir: string;
  const models: FaceTransformer[] = [];
  const make = (config: ViTConfig, seed: number) => {
    const m = new FaceTransformer(config, new Rng(seed));
    models.push(m);
    return m;
  };

  before(() => useBackend('cpu'));
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fprl-vit-'));
  });
  afterEach(async () => {
    models.splice(0).forEach((m) => m.dispose());
    await rm(dir, { recursive: true, force: true });
  });

  it('saves model.json + weights.bin in the tfjs layout with the documented names and the config', async () => {
    const model = make(MICRO, 1);
    await model.save(dir);
    expect((await readdir(dir)).sort()).to.deep.equal(['model.json', 'weights.bin']);
    const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
    expect(json.format).to.equal('fprl-face-transformer');
    expect(json.userDefinedMetadata.config).to.deep.equal({ ...MICRO });
    expect(json.weightsManifest[0].paths).to.deep.equal(['weights.bin']);
    const entries = json.weightsManifest[0].weights as { name: string; shape: number[]; dtype: string }[];
    expect(entries.map((e) => e.name)).to.deep.equal(paramSpecs(MICRO).map((s) => s.name));
    expect(entries.map((e) => e.name)).to.include.members([
      'patch_embed/kernel',
      'pos_embed',
      'blocks/0/attn/qkv/kernel',
      'blocks/1/mlp/fc2/bias',
      'norm/gamma',
      'proj/kernel',
      'head/kernel',
    ]);
    const bytes = await readFile(path.join(dir, 'weights.bin'));
    expect(bytes.byteLength).to.equal(model.countParams() * 4);
    // weights.bin is the variables concatenated: the first one starts at byte 0.
    const first = new Float32Array(bytes.buffer, bytes.byteOffset, 4);
    expect(Array.from(first)).to.deep.equal(Array.from(model.trainableVariables[0].dataSync().slice(0, 4)));
  });

  it('loads a saved model that gives identical outputs', async () => {
    const config = resolveViTConfig({ ...MICRO, normFirst: false, dropout: 0.2 });
    const model = make(config, 2);
    await model.save(dir);
    const loaded = await FaceTransformer.load(dir);
    models.push(loaded);
    expect(loaded.config).to.deep.equal(config);
    const x = images(2, 16);
    const [a, b] = [model.apply(x), loaded.apply(x)];
    expect(maxAbsDiff(a.logits, b.logits)).to.equal(0);
    expect(maxAbsDiff(a.pooled, b.pooled)).to.equal(0);
    tf.dispose([x, a.logits, a.pooled, b.logits, b.pooled]);
  });

  it('loads weights into an existing model of the same architecture, leaving no tensors behind', async () => {
    const source = make(MICRO, 3);
    await source.save(dir);
    const target = make(resolveViTConfig({ ...MICRO, dropout: 0 }), 4);
    const before = tf.memory().numTensors;
    await target.loadWeightsFrom(dir);
    expect(tf.memory().numTensors).to.equal(before);
    const x = images(1, 16);
    expect(Array.from(target.predict(x))).to.deep.equal(Array.from(source.predict(x)));
    x.dispose();
  });

  it('refuses a checkpoint of another size, naming the variable and both shapes, and changes nothing', async () => {
    await make(MICRO, 5).save(dir);
    const bigger = make(resolveViTConfig({ ...MICRO, dim: 24, heads: 2 }), 6);
    const kept = Array.from(bigger.trainableVariables[0].dataSync());
    const e = await refusal(bigger.loadWeightsFrom(dir));
    expect(e.message).to.equal(
      "variable 'patch_embed/kernel' has shape [4,4,3,16] in the checkpoint but [4,4,3,24] in the model",
    );
    expect(e.where).to.equal(path.join(dir, 'model.json'));
    expect(e.hint).to.contain('dim=16').and.contain('dim=24');
    expect(Array.from(bigger.trainableVariables[0].dataSync())).to.deep.equal(kept);
  });

  it('refuses a checkpoint whose shapes fit but whose heads or norm placement differ', async () => {
    await make(MICRO, 7).save(dir);
    const e = await refusal(make(resolveViTConfig({ ...MICRO, heads: 4 }), 8).loadWeightsFrom(dir));
    expect(e.message).to.equal('checkpoint has heads=2 but this model has heads=4');
    const f = await refusal(make(resolveViTConfig({ ...MICRO, normFirst: false }), 9).loadWeightsFrom(dir));
    expect(f.message).to.match(/normFirst=true but this model has normFirst=false/);
  });

  it('refuses a checkpoint missing the positional embedding the model has', async () => {
    await make(resolveViTConfig({ ...MICRO, posEmbedding: false }), 10).save(dir);
    const e = await refusal(make(MICRO, 11).loadWeightsFrom(dir));
    expect(e.message).to.equal("checkpoint has no variable 'pos_embed' (expected shape [16,16])");
  });

  it('explains a missing directory, a truncated weights file and a corrupted one', async () => {
    const missing = await refusal(FaceTransformer.load(path.join(dir, 'nope')));
    expect(missing.message).to.equal('no model.json here');
    await make(MICRO, 12).save(dir);
    const bin = path.join(dir, 'weights.bin');
    const bytes = await readFile(bin);
    await writeFile(bin, bytes.subarray(0, bytes.byteLength - 4));
    expect((await refusal(FaceTransformer.load(dir))).message).to.match(
      /weights hold \d+ bytes but model.json/,
    );
    bytes[100] ^= 0xff;
    await writeFile(bin, bytes);
    expect((await refusal(FaceTransformer.load(dir))).message).to.match(/does not match the checksum/);
  });

  it('overwrites a previous save atomically, leaving no temporary files', async () => {
    await make(MICRO, 13).save(dir);
    const second = make(MICRO, 14);
    await second.save(dir);
    expect((await readdir(dir)).sort()).to.deep.equal(['model.json', 'weights.bin']);
    const loaded = await FaceTransformer.load(dir);
    models.push(loaded);
    expect(Array.from(loaded.trainableVariables[0].dataSync())).to.deep.equal(
      Array.from(second.trainableVariables[0].dataSync()),
    );
  });
});

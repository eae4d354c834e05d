import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EventBus } from '../../src/core/bus.js';
import {
  CELEBA_PARTS_G_MASK,
  CELEBA_TO_LAPA,
  SyntheticFaces,
  readLabelPng,
  writeLabelPng,
  writeSyntheticFolder,
} from '../../src/data/index.js';
import { FprlError } from '../../src/core/errors.js';
import {
  checkEnv,
  envRegistry,
  makeEnv,
  registerBuiltinEnvs,
  type MakeEnvOptions,
} from '../../envs/index.js';
import { registerBuiltinRewards } from '../../rewards/index.js';
import { leakedTensors, useBackend } from '../helpers/backend.js';

/** A tiny LaPa-layout folder of synthetic faces, and the same faces as a CelebAMask-HQ folder (19-class masks). */
async function tinyFolders(): Promise<{ tmp: string; lapa: string; celeb: string }> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'fprl-envs-'));
  const lapa = path.join(tmp, 'lapa');
  await writeSyntheticFolder({ out: lapa, counts: { train: 6, val: 0, test: 0 }, size: 16, seed: 1 });
  // LaPa class -> the first CelebAMask part that maps to it (value = part index + 1, background 0).
  const toCeleb = new Uint8Array(256);
  for (let c = 1; c <= 10; c++)
    toCeleb[c] = CELEBA_PARTS_G_MASK.findIndex((p) => CELEBA_TO_LAPA[p] === c) + 1;
  const celeb = path.join(tmp, 'celeb');
  for (const dir of ['images', 'labels']) await fs.mkdir(path.join(celeb, 'train', dir), { recursive: true });
  for (const name of await fs.readdir(path.join(lapa, 'train', 'images'))) {
    await fs.copyFile(path.join(lapa, 'train', 'images', name), path.join(celeb, 'train', 'images', name));
    const stem = path.parse(name).name;
    const label = await readLabelPng(path.join(lapa, 'train', 'labels', `${stem}.png`));
    await writeLabelPng(
      path.join(celeb, 'train', 'labels', `${stem}.png`),
      label.data.map((v) => toCeleb[v]),
      label.height,
      label.width,
    );
  }
  return { tmp, lapa, celeb };
}

describe('envs: every registered env', () => {
  let dirs: Awaited<ReturnType<typeof tinyFolders>>;
  const options = (id: string): MakeEnvOptions => {
    const common = {
      batchSize: 2,
      rewards: [
        { name: 'f1', plugin: 'f1', weight: 1 },
        { name: 'acc', plugin: 'pixel-accuracy', weight: 0.5 },
      ],
    };
    if (id === 'SyntheticFaces-v0') return { ...common, size: 16, count: 6 };
    if (id === 'FaceParsing-v0') return { ...common, root: dirs.lapa, size: 16 };
    if (id === 'CelebAMask-v0') return { ...common, root: dirs.celeb, size: 16 };
    throw new Error(`add test options for the new env '${id}'`);
  };

  before(async () => {
    await useBackend('cpu');
    registerBuiltinRewards();
    registerBuiltinEnvs();
    dirs = await tinyFolders();
  });
  after(async () => {
    await fs.rm(dirs.tmp, { recursive: true, force: true });
  });

  it('registers the three built-in ids', () => {
    expect(envRegistry.names()).to.include.members(['SyntheticFaces-v0', 'FaceParsing-v0', 'CelebAMask-v0']);
  });

  for (const id of ['SyntheticFaces-v0', 'FaceParsing-v0', 'CelebAMask-v0']) {
    it(`passes checkEnv: ${id}`, async () => {
      const env = await makeEnv(id, options(id));
      try {
        expect(env.observationSpace.shape).to.deep.equal([2, 16, 16, 3]);
        expect(env.rewardRange).to.deep.equal([0, 1.5]);
        const passed = await checkEnv(env, { seed: 7 });
        expect(passed).to.include.members([
          'observation in space',
          'seeded reset',
          'seeded step',
          'state round trip',
          'no tensor leaks',
        ]);
      } finally {
        env.close();
      }
    });
  }

  it('reads the same faces from the LaPa folder and the CelebAMask folder (label mapping)', async () => {
    // one batch of all 6 faces, compared face by face (the two ids seed different orders)
    const a = await makeEnv('FaceParsing-v0', { ...options('FaceParsing-v0'), batchSize: 6 });
    const b = await makeEnv('CelebAMask-v0', { ...options('CelebAMask-v0'), batchSize: 6 });
    const byId = async (env: typeof a) => {
      const { observation } = await env.reset({ seed: 3 });
      const truth = env.optimalAction();
      const n = 16 * 16;
      return Object.fromEntries(
        observation.ids.map((id, i) => [id, [...truth.subarray(i * n, (i + 1) * n)]]),
      );
    };
    const [la, lb] = [await byId(a), await byId(b)];
    expect(Object.keys(lb).sort()).to.deep.equal(Object.keys(la).sort());
    for (const id of Object.keys(la)) expect(lb[id], id).to.deep.equal(la[id]);
    expect(new Set(Object.values(la).flat()).size, 'several classes present').to.be.greaterThan(4);
    a.close();
    b.close();
  });

  it('gives the same observations and rewards for the same seed across env instances', async () => {
    const run = async () => {
      const env = await makeEnv('SyntheticFaces-v0', { ...options('SyntheticFaces-v0'), augment: {} });
      const { observation } = await env.reset({ seed: 11 });
      const pixels = [...observation.images.dataSync()];
      const action = env.actionSpace.sample(new (await import('../../src/core/rng.js')).Rng(2));
      const r = await env.step(action, { pixelCredit: 'difference' });
      env.close();
      return { pixels, ids: observation.ids, reward: [...r.reward], pixel: [...r.pixelReward!] };
    };
    expect(await run()).to.deep.equal(await run());
  });

  it("passes the synthetic difficulty through (default 'hard')", async () => {
    const pixels = async (difficulty?: 'easy' | 'hard') => {
      const env = await makeEnv('SyntheticFaces-v0', { ...options('SyntheticFaces-v0'), difficulty });
      const ds = env.dataset as SyntheticFaces;
      const { observation } = await env.reset({ seed: 1 });
      const out = { difficulty: ds.difficulty, pixels: [...observation.images.dataSync()] };
      env.close();
      return out;
    };
    const [byDefault, hard, easy] = [await pixels(), await pixels('hard'), await pixels('easy')];
    expect([byDefault.difficulty, hard.difficulty, easy.difficulty]).to.deep.equal(['hard', 'hard', 'easy']);
    expect(byDefault.pixels).to.deep.equal(hard.pixels);
    expect(easy.pixels).to.not.deep.equal(hard.pixels);
  });

  it('trains on a stream: resets without a seed continue through the shuffled dataset', async () => {
    const env = await makeEnv('SyntheticFaces-v0', options('SyntheticFaces-v0'));
    const seen = new Set<string>();
    const leaked = await leakedTensors(async () => {
      for (let i = 0; i < 3; i++) (await env.reset()).observation.ids.forEach((id) => seen.add(id));
    });
    expect(seen.size, '3 batches of 2 from 6 faces: one epoch').to.equal(6);
    expect(leaked, 'only the current observation is held').to.equal(1);
    env.close();
  });

  it('names the missing folder of a folder env, and an unknown id', async () => {
    await makeEnv('FaceParsing-v0', { batchSize: 2 }).then(
      () => expect.fail(),
      (e: FprlError) => expect(e.hint).to.contain('root'),
    );
    await makeEnv('Nope-v0').then(
      () => expect.fail(),
      (e: FprlError) => expect(e.hint).to.contain('SyntheticFaces-v0'),
    );
  });

  it('refuses a batch larger than the dataset', async () => {
    await makeEnv('SyntheticFaces-v0', { size: 16, count: 3, batchSize: 4, bus: new EventBus() }).then(
      () => expect.fail(),
      (e: FprlError) => expect(e.message).to.contain('fewer than batchSize 4'),
    );
  });
});

/* eslint-disable @typescript-eslint/no-explicit-any -- the bad-config table mutates loose JSON freely */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { BatchSampler, SyntheticFaces } from '../../src/data/index.js';
import { augmentOf } from '../../src/experiment/datasets.js';
import { loadExperiment, resolveExperiment, trainingOf } from '../../src/experiment/load.js';
import { Rng } from '../../src/core/rng.js';
import { editorSchema } from '../../src/experiment/schema.js';
import { SCHEMA_FILE } from '../../src/experiment/write-schema.js';
import { FprlError } from '../../src/core/errors.js';
import { buildPolicyNet } from '../../agents/nets/registry.js';

const EXPERIMENTS = path.resolve('experiments');

/** A small valid config; each bad case mutates a copy. */
function base(): Record<string, any> {
  return {
    name: 'tiny',
    dataset: { kind: 'synthetic', size: 32 },
    model: { preset: 'tiny-64' },
    agents: [
      { name: 'ce', kind: 'supervised' },
      { name: 'rl', kind: 'reinforce', baseline: 'rloo', rewards: [{ plugin: 'dice' }] },
    ],
  };
}

async function problems(
  mutate: (c: Record<string, any>) => void,
  env: NodeJS.ProcessEnv = {},
): Promise<string> {
  const c = base();
  mutate(c);
  try {
    await resolveExperiment(c, { where: 'bad.json', env });
  } catch (e) {
    expect(e).to.be.instanceOf(FprlError);
    expect((e as FprlError).where).to.equal('bad.json');
    return (e as FprlError).message;
  }
  throw new Error('expected the config to be refused');
}

describe('experiment config', () => {
  describe('shipped experiments', () => {
    let tmp: string;
    before(() => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fprl-exp-'));
    });
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    const files = fs.readdirSync(EXPERIMENTS).filter((f) => f.endsWith('.json') && f !== 'schema.json');

    it('ship quickstart, baselines, reward-design, lapa and celebamask', () => {
      expect(files).to.include.members([
        'quickstart.json',
        'baselines.json',
        'reward-design.json',
        'lapa.json',
        'celebamask.json',
      ]);
    });

    for (const file of files) {
      it(`${file} validates and points editors at schema.json`, async () => {
        const env = { LAPA_DIR: tmp, FACE_DATA: tmp };
        const { config } = await loadExperiment(path.join(EXPERIMENTS, file), { env });
        expect(config.agents.length).to.be.greaterThan(0);
        expect(JSON.parse(fs.readFileSync(path.join(EXPERIMENTS, file), 'utf8')).$schema).to.equal(
          './schema.json',
        );
      });
    }

    it('give the same training batches as before seeded augmentation grew options (hashes pinned)', async () => {
      // Pinned on the code before issue 14 part 4: `augment: true` (lapa, celebamask) keeps the
      // defaults it had, and an experiment without `augment` keeps unaugmented batches.
      const pinned: Record<string, string> = {
        off: '260a56846925bbc9,6c27d120194a9baa',
        defaults: '70896a2d58ba9837,efde855f55fb6c09',
        // real-faces-flips.json, real-faces-10min.json: flips only (pinned when they were added).
        flips: 'a91cf3539d959b9e,bfead1a466f05330',
      };
      const FLIPS_ONLY = { flip: 0.5, scale: [1, 1], rotate: 0, shift: 0, colorJitter: false };
      const env = { LAPA_DIR: tmp, FACE_DATA: tmp };
      const ds = new SyntheticFaces({ size: 32, count: 16, seed: 0 });
      for (const file of files) {
        const { config } = await loadExperiment(path.join(EXPERIMENTS, file), { env });
        const augment = augmentOf(config.dataset);
        const s = new BatchSampler(ds, { batchSize: 4, rng: new Rng(7), shuffle: true, augment });
        const hashes: string[] = [];
        for (let i = 0; i < 2; i++) {
          const b = await s.nextArrays();
          hashes.push(
            createHash('sha256')
              .update(Buffer.from(b.images.buffer))
              .update(Buffer.from(b.labels.buffer))
              .update(b.ids.join(','))
              .digest('hex')
              .slice(0, 16),
          );
        }
        const a = config.dataset.augment;
        const flipsOnly =
          typeof a === 'object' &&
          Object.entries(FLIPS_ONLY).every(
            ([k, v]) => JSON.stringify((a as Record<string, unknown>)[k]) === JSON.stringify(v),
          );
        const expected = !a ? pinned.off : flipsOnly ? pinned.flips : pinned.defaults;
        expect(hashes.join(','), file).to.equal(expected);
      }
    });

    it('experiments/schema.json is generated from the current schema (npm run schema)', () => {
      expect(JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8')), 'stale: run `npm run schema`').to.deep.equal(
        JSON.parse(JSON.stringify(editorSchema())),
      );
    });
  });

  describe('defaults and resolution', () => {
    it('fills defaults from the schema and sizes the model to the dataset', async () => {
      const { config, vit } = await resolveExperiment(base());
      expect(config.seeds).to.deep.equal([0, 1, 2]);
      expect(config.evaluation.split).to.equal('test');
      expect(config.training.batchSize).to.be.a('number');
      expect(config.agents[1].samples).to.be.a('number');
      expect(config.agents[1].rewards[0]).to.include({ plugin: 'dice', weight: 1 });
      expect(vit.imageSize).to.equal(32);
      expect(vit.patchSize).to.equal(8);
    });

    it('builds a hybrid network for a hybrid preset, at the dataset size', async () => {
      const c = base();
      c.model = { preset: 'hybrid-128', depth: 1 };
      const exp = await resolveExperiment(c);
      expect(exp.model.kind).to.equal('hybrid');
      expect(exp.vit).to.include({ imageSize: 32, depth: 1, dim: 192 });
      const policy = buildPolicyNet(exp.model, new Rng(0));
      expect(policy?.architecture?.()).to.deep.equal(exp.model);
      policy?.dispose();
      const vit = await resolveExperiment(base());
      expect(vit.model).to.deep.equal({ kind: 'vit', config: vit.vit });
    });

    it('accepts a preset name as the whole model section', async () => {
      const c = base();
      c.model = 'tiny-64';
      expect((await resolveExperiment(c)).config.model.preset).to.equal('tiny-64');
    });

    it('deep-merges an agent training override, and steps in an override replace epochs', async () => {
      const c = base();
      c.training = { epochs: 2, optimizer: { lr: 0.01, name: 'sgd' } };
      c.agents[1].training = { steps: 7, optimizer: { lr: 0.001 } };
      const { config } = await resolveExperiment(c);
      const t = trainingOf(config, config.agents[1]);
      expect(t.steps).to.equal(7);
      expect(t.epochs).to.equal(undefined);
      expect(t.optimizer).to.include({ lr: 0.001, name: 'sgd' });
      expect(trainingOf(config, config.agents[0]).epochs).to.equal(2);
    });

    it('applies --seeds and --steps overrides to every agent', async () => {
      const c = base();
      c.agents[1].training = { steps: 500 };
      const { config } = await resolveExperiment(c, { seeds: [5], steps: 3 });
      expect(config.seeds).to.deep.equal([5]);
      expect(trainingOf(config, config.agents[1]).steps).to.equal(3);
    });

    it('resolves folder paths from ${ENV_VAR} and relative to the experiment file', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fprl-root-'));
      try {
        const c = base();
        c.dataset = { kind: 'lapa', root: '${ROOT}', size: 32, cache: 'cache' };
        const { config } = await resolveExperiment(c, { env: { ROOT: dir }, baseDir: '/exp' });
        expect(config.dataset).to.include({ root: dir, cache: '/exp/cache', skipBad: false });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('gives the line and column of a JSON syntax error', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fprl-json-'));
      const file = path.join(dir, 'bad.json');
      fs.writeFileSync(file, '{\n  "name": "x",\n  "agents": [1,]\n}\n');
      try {
        await loadExperiment(file);
        expect.fail('should throw');
      } catch (e) {
        expect((e as FprlError).message).to.match(/line 3/);
        expect((e as FprlError).where).to.equal(file);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('bad configs name the JSON path and what is allowed', () => {
    const table: [string, (c: Record<string, any>) => void, RegExp[]][] = [
      [
        'an unknown key',
        (c) => (c.agents[0].lr = 0.1),
        [/\/agents\/0\/lr: unknown key 'lr'; allowed keys: name,/],
      ],
      ['a wrong type', (c) => (c.seeds = '0,1'), [/\/seeds: must be array \(got '0,1'\)/]],
      [
        'a negative batch size',
        (c) => (c.training = { batchSize: -4 }),
        [/\/training\/batchSize: must be >= 1 \(got -4\)/],
      ],
      [
        'an unknown agent kind',
        (c) => (c.agents[1].kind = 'ppo'),
        [/\/agents\/1\/kind: must be one of 'supervised', 'reinforce'/],
      ],
      [
        'an unknown baseline',
        (c) => (c.agents[1].baseline = 'avg'),
        [/\/agents\/1\/baseline: must be one of .*'rloo'/],
      ],
      [
        'an unknown reward',
        (c) => (c.agents[1].rewards[0].plugin = 'dicee'),
        [/\/agents\/1\/rewards\/0\/plugin: unknown reward 'dicee'; registered rewards: .*dice/],
      ],
      [
        'reward options failing their schema',
        (c) => (c.agents[1].rewards[0].options = { average: 'mean' }),
        [/\/agents\/1\/rewards\/0\/options\/average: must be one of 'macro'.*plugin 'dice'/],
      ],
      [
        'an initFrom naming a missing agent',
        (c) => (c.agents[1].initFrom = 'cee'),
        [/\/agents\/1\/initFrom: names no agent .*'cee'/],
      ],
      [
        'an initFrom cycle',
        (c) => {
          c.agents[0].initFrom = 'rl';
          c.agents[1].initFrom = 'ce';
        },
        [/\/agents\/0\/initFrom: initFrom forms a cycle: ce -> rl -> ce/],
      ],
      [
        'rloo with one sample',
        (c) => (c.agents[1].samples = 1),
        [/\/agents\/1\/samples: baseline 'rloo' needs at least 2/],
      ],
      [
        'a reinforce agent without rewards',
        (c) => (c.agents[1].rewards = []),
        [/\/agents\/1\/rewards: a reinforce agent learns from rewards/],
      ],
      [
        'duplicate agent names',
        (c) => (c.agents[1].name = 'ce'),
        [/\/agents\/1\/name: agent name 'ce' is already used/],
      ],
      [
        'an agent name unfit for a folder',
        (c) => (c.agents[1].name = '../x'),
        [/\/agents\/1\/name: must match/],
      ],
      [
        'an unknown dataset kind',
        (c) => (c.dataset = { kind: 'coco' }),
        [/\/dataset\/kind: must be one of 'synthetic', 'lapa', 'celebamask' \(got 'coco'\)/],
      ],
      [
        'a folder dataset without root',
        (c) => (c.dataset = { kind: 'lapa' }),
        [/\/dataset\/root: is required/],
      ],
      [
        'heads not dividing dim',
        (c) => (c.model = { preset: 'tiny-64', heads: 3 }),
        [/\/model\/heads: dim 64 is not divisible by heads 3/],
      ],
      [
        'a patch size not tiling the image',
        (c) => (c.model = { patchSize: 7 }),
        [/\/model\/patchSize: 7 does not divide the image size 32/],
      ],
      [
        'a model image size unlike the data',
        (c) => (c.model = { imageSize: 64 }),
        [/\/model\/imageSize: is 64 but the dataset's images are 32 x 32/],
      ],
      [
        'augmentation with a zoom range upside down',
        (c) => (c.dataset.augment = { scale: [1.2, 0.8] }),
        [/\/dataset\/augment\/scale: scale must be \[min, max\] with 0 < min <= max/],
      ],
      [
        'a hue turn of more than half a turn',
        (c) => (c.dataset.augment = { colorJitter: { hue: 0.7 } }),
        [/\/dataset\/augment\/colorJitter\/hue: must be <= 0.5/],
      ],
      [
        'a zoom range that is not a pair',
        (c) => (c.dataset.augment = { scale: [0.9] }),
        [/\/dataset\/augment\/scale: must have at least 2 items/],
      ],
      [
        'an unknown augmentation option',
        (c) => (c.dataset.augment = { mirror: 1 }),
        [/\/dataset\/augment\/mirror: unknown key 'mirror'/],
      ],
      [
        'an unknown preset',
        (c) => (c.model = 'huge'),
        [/\/model\/preset: must be one of 'seed', 'ti16-256', 'tiny-64', 'hybrid-128', 'hybrid-256'/],
      ],
      [
        'a hybrid preset at a size that is not a multiple of its stride',
        (c) => {
          c.dataset.size = 40;
          c.model = 'hybrid-128';
        },
        [
          /\/model\/imageSize: imageSize 40 is not a multiple of 16 \(.*sizes 16, 32, \.\.\. \(e\.g\. 32 or 48\)/,
        ],
      ],
      [
        'a bad training override',
        (c) => (c.agents[1].training = { optimizer: { lr: 0 } }),
        [/\/agents\/1\/training\/optimizer\/lr: must be > 0/],
      ],
      [
        'credit a reward cannot give',
        (c) => {
          c.agents[1].credit = 'difference';
          c.agents[1].rewards[0].plugin = 'boundary-f1';
        },
        [/\/agents\/1\/rewards\/0\/plugin: reward plugin 'boundary-f1' gives no 'difference' credit/],
      ],
      [
        'initFrom a reference agent',
        (c) => {
          c.agents.push({ name: 'maj', kind: 'majority' });
          c.agents[1].initFrom = 'maj';
        },
        [/\/agents\/1\/initFrom: 'maj' is a majority agent/],
      ],
      [
        'several problems at once',
        (c) => {
          c.agents[0].kind = 'x';
          c.evaluation = { split: 'train' };
        },
        [/2 problems/, /\/agents\/0\/kind/, /\/evaluation\/split: must be one of 'val', 'test'/],
      ],
    ];
    for (const [what, mutate, want] of table) {
      it(`refuses ${what}`, async () => {
        const msg = await problems(mutate);
        for (const re of want) expect(msg).to.match(re);
      });
    }

    it('refuses a missing environment variable, naming it and the path', async () => {
      const msg = await problems((c) => (c.dataset = { kind: 'lapa', root: '${LAPA_DIR}' }));
      expect(msg).to.contain('/dataset/root: environment variable LAPA_DIR is not set');
    });

    it('refuses a dataset folder that does not exist', async () => {
      const msg = await problems((c) => (c.dataset = { kind: 'lapa', root: '/no/such/folder' }));
      expect(msg).to.contain('/dataset/root: folder /no/such/folder does not exist');
    });
  });
});

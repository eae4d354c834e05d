import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { Registry } from '../../src/registry.js';
import { FprlError } from '../../src/errors.js';
import type { RewardPlugin, RewardSpec } from '../../src/types.js';
import { importRewards, registerBuiltinRewards } from '../../rewards/index.js';
import { listRewards, formatRewards, register } from '../../src/commands/rewards.js';
import { useBackend } from '../helpers/backend.js';
import { TinyEnv } from '../envs/tiny-env.js';

const FIXTURE = 'test/fixtures/rewards/class-iou.ts';

describe('rewards: a custom reward from outside the package', () => {
  before(() => useBackend('cpu'));

  it('is registered from its file and used by name from an experiment JSON', async () => {
    const registry = new Registry<RewardPlugin>('reward');
    registerBuiltinRewards(registry);
    expect(await importRewards(FIXTURE, registry)).to.deep.equal(['class-iou']);
    const experiment = JSON.parse(readFileSync('test/fixtures/rewards/experiment.json', 'utf8')) as {
      env: { batchSize: number };
      rewards: RewardSpec[];
    };
    const env = new TinyEnv({ batchSize: experiment.env.batchSize, rewards: experiment.rewards, registry });
    await env.reset({ seed: 4 });
    const action = new Int32Array(24).fill(3);
    const result = await env.step(action);
    const target = env.optimalAction();
    for (let b = 0; b < 2; b++) {
      // IoU of class 3 (the option in the JSON) when every pixel is labelled 3
      const t = target.subarray(b * 12, b * 12 + 12);
      const counted = t.filter((v) => v !== 255).length;
      const threes = t.filter((v) => v === 3).length;
      expect(result.components.hair[b]).to.be.closeTo(counted ? threes / counted : 1, 1e-6);
      expect(result.reward[b]).to.be.closeTo(
        0.5 * result.components.f1[b] + 0.5 * result.components.hair[b],
        1e-6,
      );
    }
    env.close();
  });

  it('says so when a module exports no reward', async () => {
    await importRewards('test/rewards/helpers.ts', new Registry<RewardPlugin>('reward')).then(
      () => expect.fail('should throw'),
      (e: FprlError) => expect(e.message).to.contain('exports no reward made with defineReward'),
    );
  });

  it('shows up in `fprl rewards list` with its range and options', async () => {
    const registry = new Registry<RewardPlugin>('reward');
    const infos = await listRewards({ imports: [FIXTURE], registry });
    expect(infos.map((r) => r.name)).to.deep.equal([
      'boundary-f1',
      'class-iou',
      'composite',
      'dice',
      'f1',
      'iou',
      'pixel-accuracy',
    ]);
    const mine = infos.find((r) => r.name === 'class-iou')!;
    expect(mine.range).to.deep.equal([0, 1]);
    expect(mine.options).to.deep.equal([
      {
        name: 'cls',
        type: 'integer (>= 0)',
        default: 10,
        description: 'class index (10 = hair)',
        required: false,
      },
    ]);
    const text = formatRewards(infos);
    expect(text).to.contain('class-iou  [0, 1]');
    expect(text).to.contain('f1  [0, 1]  pixel credit: pixel, difference');
    expect(text).to.contain('average: "macro" | "micro" | "weighted" = "macro"');
  });

  it('lists the built-in rewards as JSON from the command', async () => {
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => out.push(s) > 0) as typeof process.stdout.write;
    const program = new Command('fprl').exitOverride();
    register(program);
    try {
      await program.parseAsync(['node', 'fprl', 'rewards', 'list', '--json']);
    } finally {
      process.stdout.write = write;
    }
    const names = (JSON.parse(out.join('')) as { name: string }[]).map((r) => r.name);
    expect(names).to.include.members(['f1', 'dice', 'iou', 'pixel-accuracy', 'boundary-f1', 'composite']);
  });
});

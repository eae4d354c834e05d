import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { Registry } from '../../src/core/registry.js';
import { FprlError } from '../../src/core/errors.js';
import type { RewardPlugin } from '../../src/core/types.js';
import { registerBuiltinRewards } from '../../rewards/index.js';
import { importRewards } from '../../src/experiment/import-rewards.js';
import { loadExperiment, rewardSpecsOf } from '../../src/experiment/load.js';
import { listRewards, formatRewards, register } from '../../src/commands/rewards.js';
import { useBackend } from '../helpers/backend.js';
import { TinyEnv } from '../envs/tiny-env.js';

const FIXTURE = 'test/fixtures/rewards/class-iou.ts';

describe('rewards: a custom reward from outside the package', () => {
  before(() => useBackend('cpu'));

  it('is registered from its file and used by name from an experiment JSON', async () => {
    // The experiment's "rewardModules" imports the file; its agents name the reward.
    const registry = new Registry<RewardPlugin>('reward');
    registerBuiltinRewards(registry);
    const { config } = await loadExperiment('test/fixtures/rewards/experiment.json', { rewards: registry });
    expect(registry.has('class-iou')).to.equal(true);
    const specs = rewardSpecsOf(config.agents[0]);
    expect(specs[1]).to.deep.equal({ name: 'hair', plugin: 'class-iou', weight: 0.5, options: { cls: 10 } });

    const env = new TinyEnv({ batchSize: 2, numClasses: 11, rewards: specs, registry });
    await env.reset({ seed: 4 });
    const target = env.optimalAction();
    const result = await env.step(new Int32Array(target.length).fill(10)); // hair everywhere
    for (let b = 0; b < 2; b++) {
      // IoU of hair = true hair pixels / scored pixels when every pixel is labelled hair
      const t = target.subarray(b * 12, b * 12 + 12).filter((v) => v !== 255);
      const want = t.length ? t.filter((v) => v === 10).length / t.length : 1;
      expect(result.components.hair[b]).to.be.closeTo(want, 1e-6);
      expect(result.reward[b]).to.be.closeTo(0.5 * result.components.f1[b] + 0.5 * want, 1e-6);
    }
    env.close();
  });

  it('is the README example, line for line', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(readme).to.contain("name: 'class-iou'");
    const snippet = /```ts\n([\s\S]*?)```/.exec(
      readme.slice(readme.indexOf("import { defineReward } from 'face-parsing-rl'") - 6),
    )![1];
    const fixture = readFileSync(FIXTURE, 'utf8')
      .split('\n')
      .slice(1)
      .join('\n')
      .replace('../../../rewards/index.js', 'face-parsing-rl');
    expect(snippet.trim()).to.equal(fixture.trim());
    expect(snippet.trim().split('\n').length).to.be.at.most(30);
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

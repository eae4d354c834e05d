import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { FprlError } from '../../src/core/errors.js';
import { Registry } from '../../src/core/registry.js';
import type { RewardPlugin } from '../../src/core/types.js';
import { defineReward, registerBuiltinRewards } from '../../rewards/index.js';
import { checkEnv } from '../../envs/check.js';
import type { Contexts } from '../../envs/bandit-env.js';
import { useBackend } from '../helpers/backend.js';
import { TinyEnv } from './tiny-env.js';

class UnseededEnv extends TinyEnv {
  protected override seed(): void {}
}

class LeakyEnv extends TinyEnv {
  protected override async observe(): Promise<Contexts> {
    tf.zeros([1]); // forgotten
    return super.observe();
  }
}

class BytesEnv extends TinyEnv {
  protected override async observe(): Promise<Contexts> {
    const c = await super.observe();
    const bytes = tf.tidy(() => c.images.add(1).mul(127.5)) as tf.Tensor4D;
    c.images.dispose();
    return { ...c, images: bytes };
  }
}

/** Saves nothing: a restore does not bring back its random stream. */
class ForgetfulEnv extends TinyEnv {
  getState(): unknown {
    return { version: 1 };
  }
  setState(): void {}
}

/** Its state is not JSON (a checkpoint could not store it). */
class BigIntStateEnv extends TinyEnv {
  getState(): unknown {
    return { cursor: 1n };
  }
  setState(): void {}
}

async function failures(env: TinyEnv): Promise<string> {
  try {
    await checkEnv(env);
    return '';
  } catch (e) {
    expect(e).to.be.instanceOf(FprlError);
    expect((e as FprlError).where).to.equal(`env 'Tiny-v0'`);
    return (e as FprlError).message;
  } finally {
    env.close();
  }
}

describe('envs: checkEnv finds broken envs and names the likely bug', () => {
  before(async () => {
    await useBackend('cpu');
    registerBuiltinRewards();
  });

  it('catches a seed that does not restart the random streams', async () => {
    expect(await failures(new UnseededEnv())).to.contain('randomness outside the seeded Rng');
  });

  it('catches a tensor leak per reset', async () => {
    expect(await failures(new LeakyEnv())).to.contain('2 tensors leaked over 2 reset/step cycles');
  });

  it('catches images that are not normalised', async () => {
    expect(await failures(new BytesEnv())).to.contain('not normalised with normalizeImage');
  });

  it('catches a saved state that does not replay the next contexts, or is not JSON', async () => {
    expect(await failures(new ForgetfulEnv())).to.contain('is not in its state');
    expect(await failures(new BigIntStateEnv())).to.contain('getState() is not plain JSON');
  });

  it('catches a reward plugin that is not deterministic', async () => {
    const registry = new Registry<RewardPlugin>('reward');
    registerBuiltinRewards(registry);
    let calls = 0;
    registry.register(
      defineReward({
        name: 'flaky',
        description: 'changes its mind',
        optionsSchema: { type: 'object' },
        range: [0, 1],
        compute: () => (calls++ % 3) / 2,
      }),
    );
    const message = await failures(
      new TinyEnv({ registry, rewards: [{ name: 'flaky', plugin: 'flaky', weight: 1 }] }),
    );
    expect(message).to.contain('a reward plugin is not deterministic');
  });

  it('passes a correct env and lists what it checked', async () => {
    const env = new TinyEnv();
    const passed = await checkEnv(env);
    env.close();
    expect(passed).to.include.members([
      'rejects a wrong-length action',
      'rejects labels outside the classes',
      'optimal action is a copy',
    ]);
  });
});

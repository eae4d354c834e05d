import { expect } from 'chai';
import { EventBus } from '../../src/core/bus.js';
import { SyntheticFaces } from '../../src/data/index.js';
import { FprlError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { FaceParsingEnv, type FaceParsingEnvState } from '../../envs/index.js';
import { registerBuiltinRewards } from '../../rewards/index.js';
import { leakedTensors, useBackend } from '../helpers/backend.js';

const SIZE = 16;
const REWARDS = [
  { name: 'dice', plugin: 'dice', weight: 1, options: { includeBackground: true } },
  { name: 'acc', plugin: 'pixel-accuracy', weight: 0.5 },
];

/** 10 faces in batches of 3 (dropLast): 3 batches per epoch, so 6 resets cross two epoch boundaries. */
function makeEnv(
  seed: number,
  opts: { id?: string; batchSize?: number; count?: number } = {},
): FaceParsingEnv {
  return new FaceParsingEnv({
    id: opts.id ?? 'SyntheticFaces-v0',
    dataset: new SyntheticFaces({ size: SIZE, count: opts.count ?? 10, seed: 4 }),
    batchSize: opts.batchSize ?? 3,
    rng: new Rng(seed, 'env'),
    bus: new EventBus(),
    rewards: REWARDS,
    augment: {},
  });
}

interface Draw {
  ids: string[];
  pixels: number[];
  truth: number[];
  reward: number[];
  pixelReward: number[];
}

/** Reset, then score a fixed random labelling (2 samples per face) with difference credit. */
async function draw(env: FaceParsingEnv, actionSeed: number): Promise<Draw> {
  const { observation } = await env.reset();
  const action = new Int32Array(2 * 3 * SIZE * SIZE);
  const rng = new Rng(actionSeed, 'action');
  for (let i = 0; i < action.length; i++) action[i] = rng.int(0, 11);
  const r = await env.step(action, { pixelCredit: 'difference' });
  return {
    ids: observation.ids,
    pixels: Array.from(observation.images.dataSync()),
    truth: Array.from(env.optimalAction()),
    reward: Array.from(r.reward),
    pixelReward: Array.from(r.pixelReward!),
  };
}

function refusal(fn: () => void): FprlError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(FprlError);
    return e as FprlError;
  }
  throw new Error('expected an FprlError');
}

describe('envs: FaceParsingEnv state (exact resume of the data order)', () => {
  before(async () => {
    await useBackend('cpu');
    registerBuiltinRewards();
  });

  it('an env restored from a saved state yields the same next observations and rewards as the original', async () => {
    const original = makeEnv(1);
    for (let i = 0; i < 2; i++) await original.reset();
    const saved = JSON.parse(JSON.stringify(original.getState())) as FaceParsingEnvState;
    expect(saved.sampler).to.include({ epoch: 0, position: 6 });

    // Another construction seed: everything that matters must come from the state.
    const restored = makeEnv(99);
    restored.setState(saved);
    for (let step = 0; step < 6; step++) {
      const [a, b] = [await draw(original, step), await draw(restored, step)];
      expect(b, `reset ${step + 1} after the restore`).to.deep.equal(a);
    }
    expect(restored.getState()).to.deep.equal(original.getState());
    expect(original.getState().sampler.epoch, 'two epoch boundaries crossed').to.equal(2);
    [original, restored].forEach((e) => e.close());
  });

  it('keeps the seed of reset({ seed }) in the state', async () => {
    const original = makeEnv(1);
    await original.reset({ seed: 5 });
    const restored = makeEnv(1);
    restored.setState(original.getState());
    for (let step = 0; step < 2; step++)
      expect(await draw(restored, step)).to.deep.equal(await draw(original, step));
    [original, restored].forEach((e) => e.close());
  });

  it('restores without leaking tensors, and a restored state ignores a prefetched batch', async () => {
    const env = makeEnv(1);
    const start = env.getState();
    const first = await draw(env, 0); // the sampler now prefetches batch 2
    const leaked = await leakedTensors(() => env.setState(start));
    expect(leaked).to.equal(0);
    expect((await draw(env, 0)).ids).to.deep.equal(first.ids);
    env.close();
  });

  it('refuses a malformed state, a state from another env id, and one for another batch size', () => {
    const env = makeEnv(1);
    const state = env.getState();
    for (const bad of [
      undefined,
      null,
      3,
      {},
      { version: 1 },
      { ...state, sampler: { ...state.sampler, seed: 'x' } },
    ]) {
      const e = refusal(() => env.setState(bad));
      expect(e.where).to.equal("env 'SyntheticFaces-v0'.setState");
      expect(e.message).to.contain('not a FaceParsingEnv state');
    }
    const other = makeEnv(1, { id: 'FaceParsing-v0' });
    expect(refusal(() => env.setState(other.getState())).message).to.contain("from env 'FaceParsing-v0'");
    const wide = makeEnv(1, { batchSize: 2 });
    expect(refusal(() => env.setState(wide.getState())).message).to.contain('in batches of 2');
    const bigger = makeEnv(1, { count: 12 });
    expect(refusal(() => env.setState(bigger.getState())).hint).to.contain('same dataset');
    [env, other, wide, bigger].forEach((e) => e.close());
  });
});

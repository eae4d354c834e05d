import * as tf from '@tensorflow/tfjs';
import { FprlError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import type { Env, StepResult } from '../src/core/types.js';

export interface CheckEnvOptions {
  /** Seed of the resets and of the random actions. Default 0. */
  seed?: number;
}

/**
 * Check an env against the contract, as Gymnasium's env checker does: spaces, observations
 * inside the observation space, ground truth, step results (shapes, termination, rewards in
 * `rewardRange`, K samples per context), seeding reproduces reset and step, a saved state
 * (when the env has getState/setState) replays the next contexts, no tensor leaks, bad actions
 * rejected. Throws one FprlError listing every problem with the likely bug;
 * returns the names of the checks passed. Leaves the env reset (not closed).
 */
export async function checkEnv(env: Env, opts: CheckEnvOptions = {}): Promise<string[]> {
  const seed = opts.seed ?? 0;
  const passed: string[] = [];
  const problems: string[] = [];
  const check = (name: string, ok: boolean, problem: () => string) => {
    if (ok) passed.push(name);
    else problems.push(problem());
  };
  const report = () => {
    if (problems.length) {
      throw new FprlError(`fails ${problems.length} check(s):\n  - ${problems.join('\n  - ')}`, {
        where: `env '${env.id}'`,
        hint: 'each line names the likely bug',
      });
    }
    return passed;
  };

  // -------------------------------------------------------------- spaces
  const obsShape = [...env.observationSpace.shape];
  const actShape = [...env.actionSpace.shape];
  check(
    'spaces',
    obsShape.length === 4 && obsShape[3] === 3 && actShape.join() === obsShape.slice(0, 3).join(),
    () =>
      `observation space [${obsShape}] and action space [${actShape}] disagree: expected [B,H,W,3] and [B,H,W]`,
  );
  const [lo, hi] = env.rewardRange;
  check(
    'reward range',
    !(lo > hi) && !Number.isNaN(lo) && !Number.isNaN(hi),
    () => `rewardRange [${lo}, ${hi}] is not an interval: check the plugins' declared ranges and weights`,
  );
  if (problems.length) return report();
  const [B, H, W] = actShape;
  const n = B * H * W;

  // -------------------------------------------------------------- reset
  const first = await env.reset({ seed });
  const images = first.observation.images;
  const pixels = images.dataSync() as Float32Array;
  check(
    'observation shape',
    images.shape.join() === obsShape.join() && images.dtype === 'float32',
    () =>
      `reset() gave ${images.dtype} images of shape [${images.shape}], the observation space says float32 [${obsShape}]`,
  );
  check('observation in space', env.observationSpace.contains(pixels), () => {
    let min = Infinity;
    let max = -Infinity;
    for (const v of pixels) [min, max] = [Math.min(min, v), Math.max(max, v)];
    return `observation values span [${min}, ${max}], outside the observation space (NaN, or images not normalised with normalizeImage)`;
  });
  check(
    'ids',
    first.observation.ids.length === B && first.info.ids.join() === first.observation.ids.join(),
    () =>
      `reset() gave ${first.observation.ids.length} ids for ${B} images, or info.ids differs from observation.ids`,
  );

  // -------------------------------------------------------------- ground truth
  const truth = env.optimalAction();
  const C = (env.actionSpace as { numClasses?: number }).numClasses ?? 11;
  const badTruth = truth.findIndex((t) => (t < 0 || t >= C) && t !== 255);
  check('optimal action', truth.length === n && badTruth < 0, () =>
    truth.length !== n
      ? `optimalAction() has ${truth.length} labels, expected B*H*W = ${n}`
      : `optimalAction()[${badTruth}] = ${truth[badTruth]} is neither a class nor 255: the dataset's masks are wrong`,
  );
  const saved = truth.slice();
  truth.fill(-1);
  check(
    'optimal action is a copy',
    sameValues(env.optimalAction(), saved),
    () =>
      "optimalAction() returns the env's own array: a caller can corrupt the ground truth (return a copy)",
  );

  // -------------------------------------------------------------- step
  const rng = new Rng(seed, 'checkEnv');
  const act = env.actionSpace.sample(rng);
  const r1 = await env.step(act);
  checkResult(r1, 1);
  const optimal = env.optimalAction().map((t) => (t === 255 ? 0 : t));
  checkResult(await env.step(Int32Array.from(optimal)), 1);
  const second = env.actionSpace.sample(rng);
  const both = new Int32Array(2 * n);
  both.set(act);
  both.set(second, n);
  const r2 = await env.step(both);
  checkResult(r2, 2);
  const rSecond = await env.step(second);
  check(
    'K samples per context',
    sameValues(r2.reward.subarray(0, B), r1.reward) && sameValues(r2.reward.subarray(B), rSecond.reward),
    () =>
      'scoring 2 samples per context in one step differs from scoring them one by one: the action is not read sample-major',
  );

  // -------------------------------------------------------------- seeding
  const again = await env.reset({ seed });
  check(
    'seeded reset',
    sameValues(again.observation.images.dataSync() as Float32Array, pixels) &&
      again.observation.ids.join() === first.observation.ids.join(),
    () =>
      'reset({ seed }) twice with the same seed gave different observations: randomness outside the seeded Rng (Math.random, an unseeded tf op, a stream not restarted by the seed)',
  );
  const r1again = await env.step(act);
  check(
    'seeded step',
    sameValues(r1again.reward, r1.reward),
    () =>
      'the same action on the same seeded contexts gave different rewards: a reward plugin is not deterministic',
  );

  // -------------------------------------------------------------- saved state (optional: exact resume)
  if (isStateful(env)) {
    let state: unknown;
    let problem: string | undefined;
    try {
      state = JSON.parse(JSON.stringify(env.getState()));
    } catch (e) {
      problem = `getState() is not plain JSON (${(e as Error).message}): checkpoints store it as JSON`;
    }
    if (!problem) {
      const ahead = [await snapshot(), await snapshot()];
      try {
        env.setState(state);
        const replay = [await snapshot(), await snapshot()];
        if (replay.some((r, i) => !sameValues(r.pixels, ahead[i].pixels) || r.key !== ahead[i].key)) {
          problem =
            'after setState(getState()) the next resets gave other contexts: some random stream or cursor of the env is not in its state';
        }
      } catch (e) {
        problem = `setState() refused the env's own getState() (${(e as Error).message})`;
      }
    }
    check('state round trip', problem === undefined, () => problem!);
  }

  // -------------------------------------------------------------- leaks (the env holds one observation)
  const before = tf.memory().numTensors;
  await env.reset();
  await env.step(env.actionSpace.sample(rng));
  await env.reset({ seed: seed + 1 });
  await env.step(env.actionSpace.sample(rng));
  const leaked = tf.memory().numTensors - before;
  check(
    'no tensor leaks',
    leaked === 0,
    () =>
      `${leaked} tensors leaked over 2 reset/step cycles: dispose the previous observation and the batch labels`,
  );

  // -------------------------------------------------------------- bad actions
  const rejects = async (action: Int32Array) => {
    try {
      await env.step(action);
      return false;
    } catch (e) {
      return e instanceof FprlError;
    }
  };
  check(
    'rejects a wrong-length action',
    await rejects(new Int32Array(n + 1)),
    () =>
      `step() accepted an action of ${n + 1} labels (not a multiple of B*H*W = ${n}); it must reject it with an FprlError`,
  );
  const outside = new Int32Array(n).fill(C);
  check(
    'rejects labels outside the classes',
    await rejects(outside),
    () => `step() accepted label ${C} (classes are 0..${C - 1}); it must reject it with an FprlError`,
  );
  return report();

  /** Reset and copy what identifies the contexts (pixels, ids and ground truth). */
  async function snapshot(): Promise<{ pixels: Float32Array; key: string }> {
    const { observation } = await env.reset();
    const pixels = (observation.images.dataSync() as Float32Array).slice();
    return { pixels, key: `${observation.ids.join()}|${env.optimalAction().join()}` };
  }

  function checkResult(r: StepResult, K: number): void {
    const size = K * B;
    check(
      `step result shape (K=${K})`,
      r.reward instanceof Float32Array && r.reward.length === size && r.info.samples === K,
      () =>
        `step() with ${K} sample(s) per context gave ${r.reward?.length} rewards (expected ${size}) and info.samples ${r.info?.samples}`,
    );
    check(
      `episode ends (K=${K})`,
      r.terminated === true && r.truncated === false,
      () =>
        `step() gave terminated=${r.terminated}, truncated=${r.truncated}: a bandit step always ends the episode (true, false)`,
    );
    const out = [...r.reward].filter((v) => !(v >= lo - 1e-6 && v <= hi + 1e-6));
    check(
      `rewards in range (K=${K})`,
      out.length === 0,
      () =>
        `rewards ${out.slice(0, 3).join(', ')} fall outside rewardRange [${lo}, ${hi}]: combined weights or a plugin's declared range are wrong`,
    );
    const badComponent = Object.entries(r.components).find(
      ([, v]) => v.length !== size || v.some((x) => !Number.isFinite(x)),
    );
    check(`components (K=${K})`, Object.keys(r.components).length > 0 && !badComponent, () =>
      badComponent
        ? `component '${badComponent[0]}' has ${badComponent[1].length} values (expected ${size}) or non-finite ones`
        : 'no reward components',
    );
  }
}

/** An env that saves and restores its data order (the trainer's StatefulEnv). */
function isStateful(env: Env): env is Env & { getState(): unknown; setState(s: unknown): void } {
  const e = env as Partial<{ getState: unknown; setState: unknown }>;
  return typeof e.getState === 'function' && typeof e.setState === 'function';
}

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

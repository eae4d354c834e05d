import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { EMPTY, map, throwError, timer } from 'rxjs';
import { EventBus } from '../../src/core/bus.js';
import { FprlError } from '../../src/core/errors.js';
import { Registry } from '../../src/core/registry.js';
import type { RewardPlugin, RewardSpec } from '../../src/core/types.js';
import {
  defineReward,
  f1Reward,
  iouReward,
  registerBuiltinRewards,
  resolveOptions,
} from '../../rewards/index.js';
import { checkEnv } from '../../envs/check.js';
import { leakedTensors, useBackend } from '../helpers/backend.js';
import { TinyEnv } from './tiny-env.js';

const constant = (name: string, answer: () => unknown, range: [number, number] = [0, 1]) =>
  defineReward({
    name,
    description: name,
    optionsSchema: { type: 'object', properties: {}, additionalProperties: false },
    range,
    compute: answer as RewardPlugin['compute'],
  });

function testRegistry(): Registry<RewardPlugin> {
  const r = new Registry<RewardPlugin>('reward');
  registerBuiltinRewards(r);
  r.register(constant('throws', () => { throw new Error('boom'); })); // prettier-ignore
  r.register(constant('nan', () => NaN));
  r.register(constant('too-big', () => 2));
  r.register(
    defineReward({
      ...constant('short-credit', () => 0.5).plugin,
      credit: ['pixel'],
      pixelCredit: () => new Float32Array(3),
    }),
  );
  const credits = (name: string, pixelCredit: RewardPlugin['pixelCredit']) =>
    defineReward({ ...constant(name, () => 0.5).plugin, credit: ['pixel'], pixelCredit });
  r.register(credits('nan-credit', (pred) => new Float32Array(pred.length).fill(NaN, 5)));
  r.register(credits('inf-credit', (pred) => Float32Array.from(pred, (_, i) => (i === 7 ? -Infinity : 1))));
  r.register(credits('credit-throws', () => { throw new Error('no credit today'); })); // prettier-ignore
  r.register(constant('infinite', () => Infinity, [-Infinity, Infinity]));
  r.register(constant('resolves-infinite', () => Promise.resolve(-Infinity), [-Infinity, Infinity]));
  r.register(constant('not-a-number', () => '0.5'));
  r.register(constant('hangs', () => new Promise(() => {})));
  r.register(constant('rejects', () => Promise.reject(new Error('remote scorer down'))));
  r.register(constant('promise', () => new Promise((resolve) => setTimeout(() => resolve(0.25), 5))));
  r.register(constant('observable', () => timer(5).pipe(map(() => 0.75))));
  r.register(constant('observable-error', () => throwError(() => new Error('worker crashed'))));
  r.register(constant('observable-empty', () => EMPTY));
  r.register(constant('late', () => new Promise((resolve) => setTimeout(() => resolve(0.5), 80))));
  return r;
}

/** Errors that escaped to the process (RxJS rethrows subscriber errors asynchronously). */
function watchEscapes(): { escaped: unknown[]; stop: () => void } {
  const escaped: unknown[] = [];
  const onError = (e: unknown) => escaped.push(e);
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  return {
    escaped,
    stop: () => {
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
    },
  };
}

describe('envs: the bandit template (BanditEnv)', () => {
  before(() => useBackend('cpu'));
  const registry = testRegistry();
  const make = (rewards: RewardSpec[], extra: { rewardTimeoutMs?: number; bus?: EventBus } = {}) =>
    new TinyEnv({ rewards, registry, ...extra });

  it('passes checkEnv', async () => {
    const env = make([{ name: 'f1', plugin: 'f1', weight: 1 }]);
    const passed = await checkEnv(env);
    expect(passed).to.include.members([
      'spaces',
      'seeded reset',
      'seeded step',
      'no tensor leaks',
      'K samples per context',
    ]);
    env.close();
  });

  it('combines weighted components into the reward and returns each unweighted', async () => {
    const env = make([
      { name: 'f1', plugin: 'f1', weight: 2 },
      { name: 'iou', plugin: 'iou', weight: -0.5, options: { average: 'micro' } },
    ]);
    await env.reset({ seed: 3 });
    const action = env.actionSpace.sample(new (await import('../../src/core/rng.js')).Rng(1));
    const r = await env.step(action);
    const target = env.optimalAction();
    const ctx = { height: 3, width: 4, numClasses: 4, ignoreIndex: 255 };
    for (let b = 0; b < 2; b++) {
      const p = action.subarray(b * 12, b * 12 + 12);
      const t = target.subarray(b * 12, b * 12 + 12);
      const f1 = f1Reward().compute(p, t, ctx, resolveOptions(f1Reward(), {}, 't')) as number;
      const iou = iouReward().compute(
        p,
        t,
        ctx,
        resolveOptions(iouReward(), { average: 'micro' }, 't'),
      ) as number;
      expect(r.components.f1[b]).to.be.closeTo(f1, 1e-6);
      expect(r.components.iou[b]).to.be.closeTo(iou, 1e-6);
      expect(r.reward[b]).to.be.closeTo(2 * f1 - 0.5 * iou, 1e-6);
    }
    expect(env.rewardRange).to.deep.equal([-0.5, 2]);
    expect(r).to.deep.include({ terminated: true, truncated: false });
    expect(r.info).to.deep.equal({ ids: ['tiny-2', 'tiny-3'].map((_, i) => r.info.ids[i]), samples: 1 });
    env.close();
  });

  it('scores the ground truth as the best labelling (regret 0)', async () => {
    const env = make([{ name: 'f1', plugin: 'f1', weight: 1 }]);
    await env.reset({ seed: 0 });
    const best = env.optimalAction().map((t) => (t === 255 ? 0 : t));
    expect([...(await env.step(best)).reward]).to.deep.equal([1, 1]);
    env.close();
  });

  it('returns the weighted per-pixel credit when asked', async () => {
    const env = make([
      { name: 'acc', plugin: 'pixel-accuracy', weight: 3 },
      { name: 'f1', plugin: 'f1', weight: 1 },
    ]);
    await env.reset({ seed: 1 });
    const action = new Int32Array(24);
    const target = env.optimalAction();
    const r = await env.step(action, { pixelCredit: 'pixel' });
    expect(r.pixelReward).to.have.length(24);
    for (let i = 0; i < 24; i++) expect(r.pixelReward![i]).to.equal(target[i] === 0 ? 4 : 0);
    env.close();
  });

  const failures: [string, string, RegExp][] = [
    ['throws', 'throws', /threw on image 0 \(tiny-0\): boom/],
    ['returns NaN', 'nan', /returned NaN for image 0 \(tiny-0\), not a number/],
    [
      'returns a value outside its declared range',
      'too-big',
      /returned 2 for image 0 \(tiny-0\), outside its declared range \[0, 1\]/,
    ],
    [
      'returns Infinity inside an unbounded range',
      'infinite',
      /returned Infinity for image 0 \(tiny-0\), not a finite number/,
    ],
    [
      'resolves its Promise to -Infinity',
      'resolves-infinite',
      /returned -Infinity for image 0 \(tiny-0\), not a finite number/,
    ],
    ['returns something other than a number', 'not-a-number', /returned string "0.5" for image 0/],
    ['rejects its Promise', 'rejects', /failed asynchronously: remote scorer down/],
    ['errors its Observable', 'observable-error', /failed asynchronously: worker crashed/],
    [
      'completes its Observable without a value',
      'observable-empty',
      /failed asynchronously: no elements in sequence/,
    ],
    ['never answers (timeout)', 'hangs', /no answer within 40 ms/],
  ];
  for (const [what, plugin, message] of failures) {
    it(`rejects the step, naming the component and plugin, when a plugin ${what}`, async () => {
      const watch = watchEscapes();
      const env = make(
        [
          { name: 'ok', plugin: 'f1', weight: 1 },
          { name: 'bad', plugin, weight: 1 },
        ],
        { rewardTimeoutMs: 40 },
      );
      try {
        await env.reset({ seed: 0 });
        const err = await env.step(new Int32Array(24)).then(
          () => expect.fail('the step should reject'),
          (e: unknown) => e,
        );
        expect(err).to.be.instanceOf(FprlError);
        expect((err as FprlError).where).to.equal(`reward component 'bad' (plugin '${plugin}')`);
        expect((err as FprlError).message).to.match(message);
        // the env is still usable after a failed step
        expect(env.optimalAction()).to.have.length(24);
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(watch.escaped, 'nothing escaped to the process').to.deep.equal([]);
      } finally {
        watch.stop();
        env.close();
      }
    });
  }

  it('rejects the step, naming the component and plugin, when pixel credit has the wrong size', async () => {
    const env = make([{ name: 'bad', plugin: 'short-credit', weight: 1 }]);
    try {
      await env.reset({ seed: 0 });
      const err = await env.step(new Int32Array(24), { pixelCredit: 'pixel' }).then(
        () => expect.fail('the step should reject'),
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(FprlError);
      expect((err as FprlError).where).to.equal("reward component 'bad' (plugin 'short-credit')");
      expect((err as FprlError).message).to.match(
        /pixelCredit returned 3 values for image 0 \(tiny-0\) of 12 pixels/,
      );
    } finally {
      env.close();
    }
  });

  const creditFailures: [string, string, RegExp][] = [
    [
      'holds NaN',
      'nan-credit',
      /pixelCredit returned NaN at pixel 5 of image 0 \(tiny-0\) \(7 of 12 values not finite\)/,
    ],
    [
      'holds -Infinity',
      'inf-credit',
      /pixelCredit returned -Infinity at pixel 7 of image 0 \(tiny-0\) \(1 of 12/,
    ],
    ['throws', 'credit-throws', /pixelCredit threw on image 0 \(tiny-0\): no credit today/],
  ];
  for (const [what, plugin, message] of creditFailures) {
    it(`rejects the step, naming the component and plugin, when pixel credit ${what}`, async () => {
      const watch = watchEscapes();
      const env = make([
        { name: 'ok', plugin: 'f1', weight: 1 },
        { name: 'bad', plugin, weight: 1 },
      ]);
      try {
        await env.reset({ seed: 0 });
        const err = await env.step(new Int32Array(24), { pixelCredit: 'pixel' }).then(
          () => expect.fail('the step should reject'),
          (e: unknown) => e,
        );
        expect(err).to.be.instanceOf(FprlError);
        expect((err as FprlError).where).to.equal(`reward component 'bad' (plugin '${plugin}')`);
        expect((err as FprlError).message).to.match(message);
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(watch.escaped, 'nothing escaped to the process').to.deep.equal([]);
      } finally {
        watch.stop();
        env.close();
      }
    });
  }

  it('ignores an answer that arrives after the timeout, without crashing', async () => {
    const watch = watchEscapes();
    const env = make([{ name: 'late', plugin: 'late', weight: 1 }], { rewardTimeoutMs: 20 });
    try {
      await env.reset();
      await env.step(new Int32Array(24)).then(
        () => expect.fail('should time out'),
        (e: FprlError) => expect(e.message).to.match(/no answer within 20 ms/),
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(watch.escaped).to.deep.equal([]);
    } finally {
      watch.stop();
      env.close();
    }
  });

  it('accepts asynchronous rewards from Promises and Observables', async () => {
    const env = make([
      { name: 'p', plugin: 'promise', weight: 1 },
      { name: 'o', plugin: 'observable', weight: 2 },
    ]);
    await env.reset();
    const r = await env.step(new Int32Array(48)); // K = 2
    expect([...r.components.p]).to.deep.equal([0.25, 0.25, 0.25, 0.25]);
    expect([...r.components.o]).to.deep.equal([0.75, 0.75, 0.75, 0.75]);
    expect([...r.reward]).to.deep.equal([1.75, 1.75, 1.75, 1.75]);
    expect(r.info.samples).to.equal(2);
    env.close();
  });

  it('refuses pixel credit that a component cannot give, naming it', async () => {
    const env = make([{ name: 'edges', plugin: 'boundary-f1', weight: 1 }]);
    await env.reset();
    await env.step(new Int32Array(24), { pixelCredit: 'difference' }).then(
      () => expect.fail('should reject'),
      (e: FprlError) => {
        expect(e.where).to.equal("reward component 'edges' (plugin 'boundary-f1')");
        expect(e.message).to.contain("gives no 'difference' pixel credit");
      },
    );
    env.close();
  });

  const badConfigs: [string, RewardSpec[], RegExp, string][] = [
    [
      'an unknown plugin',
      [{ name: 'x', plugin: 'f2', weight: 1 }],
      /unknown reward plugin 'f2'/,
      "reward component 'x' (plugin 'f2')",
    ],
    [
      'bad options',
      [{ name: 'x', plugin: 'f1', weight: 1, options: { average: 'mean' } }],
      /\/options\/average: must be one of 'macro'/,
      "reward component 'x' (plugin 'f1')",
    ],
    [
      'a duplicate name',
      [
        { name: 'x', plugin: 'f1', weight: 1 },
        { name: 'x', plugin: 'iou', weight: 1 },
      ],
      /used twice/,
      "reward component 'x' (plugin 'iou')",
    ],
    [
      'a NaN weight',
      [{ name: 'x', plugin: 'f1', weight: NaN }],
      /weight must be a finite number/,
      "reward component 'x' (plugin 'f1')",
    ],
    ['no components', [], /no reward components/, 'rewards'],
  ];
  for (const [what, rewards, message, where] of badConfigs) {
    it(`refuses ${what} when the env is made, naming the component`, () => {
      expect(() => make(rewards))
        .to.throw(FprlError, message)
        .with.property('where', where);
    });
  }

  it('rejects bad actions and a step before reset, naming the likely mistake', async () => {
    const env = make([{ name: 'f1', plugin: 'f1', weight: 1 }]);
    await env.step(new Int32Array(24)).then(
      () => expect.fail(),
      (e: FprlError) => expect(e.message).to.contain('before reset'),
    );
    await env.reset();
    await env.step(new Int32Array(25)).then(
      () => expect.fail(),
      (e: FprlError) => expect(e.message).to.contain('expected K x 24 (K label maps of B=2 x H=3 x W=4'),
    );
    await env.step(new Int32Array(24).fill(255)).then(
      () => expect.fail(),
      (e: FprlError) => expect(e.hint).to.contain('255 (ignore) marks targets only'),
    );
    await env.step(new Float32Array(24) as unknown as Int32Array).then(
      () => expect.fail(),
      (e: FprlError) => expect(e.message).to.contain('must be an Int32Array, got Float32Array'),
    );
    env.close();
  });

  it('gives the same observations and rewards for the same seed, and others for another seed', async () => {
    const run = async (seed: number) => {
      const env = make([{ name: 'f1', plugin: 'f1', weight: 1 }]);
      const { observation } = await env.reset({ seed });
      const pixels = observation.images.dataSync().slice();
      const r = await env.step(new Int32Array(24).fill(1));
      env.close();
      return { pixels: [...pixels], reward: [...r.reward] };
    };
    expect(await run(5)).to.deep.equal(await run(5));
    expect((await run(6)).pixels).to.not.deep.equal((await run(5)).pixels);
  });

  it('leaks no tensors over reset and step, and frees the observation on close', async () => {
    const env = make([{ name: 'f1', plugin: 'f1', weight: 1 }]);
    const leaked = await leakedTensors(async () => {
      await env.reset();
      await env.step(new Int32Array(24));
      await env.reset();
      await env.step(new Int32Array(24));
      env.close();
    });
    expect(leaked).to.equal(0);
  });

  it('detaches its reward components on close', async () => {
    const bus = new EventBus();
    const env = make([{ name: 'f1', plugin: 'f1', weight: 1 }], { bus });
    env.close();
    let answers = 0;
    bus.on('reward').subscribe(() => answers++);
    bus.emit('env:action', {
      requestId: -1,
      envId: 'x',
      count: 1,
      height: 1,
      width: 1,
      action: new Int32Array(1),
      target: new Int32Array(1),
      ids: ['a'],
    });
    expect(answers).to.equal(0);
    await env.reset().then(
      () => expect.fail(),
      (e: FprlError) => expect(e.message).to.contain('closed env'),
    );
  });

  it('lets envs share one bus (answers are matched by request id)', async () => {
    const bus = new EventBus();
    const a = make([{ name: 'r', plugin: 'promise', weight: 1 }], { bus });
    const b = make([{ name: 'r', plugin: 'observable', weight: 1 }], { bus });
    await Promise.all([a.reset(), b.reset()]);
    const [ra, rb] = await Promise.all([a.step(new Int32Array(24)), b.step(new Int32Array(24))]);
    expect([...ra.reward]).to.deep.equal([0.25, 0.25]);
    expect([...rb.reward]).to.deep.equal([0.75, 0.75]);
    a.close();
    b.close();
  });

  it('publishes every action on the bus for other listeners (sinks, external scorers)', async () => {
    const bus = new EventBus();
    const seen: number[] = [];
    bus.on('env:action').subscribe((e) => seen.push(e.count));
    const env = make([{ name: 'f1', plugin: 'f1', weight: 1 }], { bus });
    await env.reset();
    await env.step(new Int32Array(72));
    expect(seen).to.deep.equal([6]);
    expect(tf.memory().numTensors).to.be.greaterThan(0);
    env.close();
  });
});

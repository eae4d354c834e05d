import { expect } from 'chai';
import { FprlError } from '../../src/core/errors.js';
import { Registry } from '../../src/core/registry.js';
import type { RewardPlugin } from '../../src/core/types.js';
import {
  defineReward,
  f1Reward,
  isRewardDefinition,
  optionInfo,
  registerBuiltinRewards,
  resolveOptions,
} from '../../rewards/index.js';

const valid = (): RewardPlugin<{ k: number }> => ({
  name: 'const',
  description: 'a constant',
  optionsSchema: {
    type: 'object',
    properties: { k: { type: 'number', default: 0.5 } },
    additionalProperties: false,
  },
  range: [0, 1],
  compute: (_p, _t, _c, o) => o.k,
});

describe('rewards: defineReward and options', () => {
  it('wraps a valid plugin as a registry entry that creates it', () => {
    const def = defineReward(valid());
    expect(isRewardDefinition(def)).to.equal(true);
    expect(def.name).to.equal('const');
    const registry = new Registry<RewardPlugin>('reward');
    registry.register(def);
    expect(registry.create('const')).to.equal(def.plugin);
  });

  const broken: [string, Partial<RewardPlugin<{ k: number }>>, RegExp][] = [
    ['an empty name', { name: '' }, /name must be a non-empty identifier/],
    ['a name with spaces', { name: 'my reward' }, /name must be a non-empty identifier/],
    ['a reversed range', { range: [1, 0] }, /range must be \[min, max\]/],
    ['a NaN range', { range: [0, NaN] }, /range must be/],
    ['no compute', { compute: undefined }, /compute\(pred, target, ctx, opts\) must be a function/],
    [
      'pixelCredit without declared kinds',
      { pixelCredit: () => new Float32Array() },
      /declare the kinds pixelCredit gives/,
    ],
    ['credit kinds without pixelCredit', { credit: ['pixel'] }, /there is no pixelCredit function/],
    [
      'a schema with an unknown keyword',
      { optionsSchema: { type: 'object', propertys: {} } },
      /not a valid JSON schema/,
    ],
  ];
  for (const [what, change, message] of broken) {
    it(`refuses a plugin with ${what}, naming it`, () => {
      const plugin = { ...valid(), ...change } as RewardPlugin<{ k: number }>;
      expect(() => defineReward(plugin)).to.throw(FprlError, message);
      try {
        defineReward(plugin);
      } catch (e) {
        expect((e as FprlError).where).to.match(/^reward plugin '/);
      }
    });
  }

  it('fills the schema defaults into a copy of the options', () => {
    const given = { average: 'micro' };
    const opts = resolveOptions(f1Reward(), given, 'here');
    expect(opts).to.deep.include({ average: 'micro', includeBackground: false, absent: 'skip' });
    expect(given, 'the caller object is untouched').to.deep.equal({ average: 'micro' });
  });

  it('lists every bad option with its path, naming where it came from and what is allowed', () => {
    try {
      resolveOptions(
        f1Reward(),
        { average: 'mean', colour: 'red', classes: [1, 1] },
        "reward component 'x' (plugin 'f1')",
      );
      expect.fail('should throw');
    } catch (e) {
      const err = e as FprlError;
      expect(err).to.be.instanceOf(FprlError);
      expect(err.where).to.equal("reward component 'x' (plugin 'f1')");
      expect(err.message).to.contain("/options/colour: unknown key 'colour'; allowed keys: average,");
      expect(err.message).to.contain(
        "/options/average: must be one of 'macro', 'micro', 'weighted' (got 'mean')",
      );
      expect(err.message).to.contain('/options/classes: must not repeat items');
      expect(err.hint).to.contain('average: "macro" | "micro" | "weighted" = "macro"');
    }
  });

  it('describes each option from the schema for `fprl rewards list`', () => {
    const info = optionInfo(f1Reward() as RewardPlugin);
    const average = info.find((o) => o.name === 'average')!;
    expect(average.default).to.equal('macro');
    expect(average.type).to.equal('"macro" | "micro" | "weighted"');
    expect(info.find((o) => o.name === 'classes')!.type).to.equal('integer (>= 0, <= 254)[]');
  });

  it('registers the built-ins explicitly and idempotently', () => {
    const registry = new Registry<RewardPlugin>('reward');
    expect(registry.names()).to.deep.equal([]);
    registerBuiltinRewards(registry);
    registerBuiltinRewards(registry);
    expect(registry.names()).to.deep.equal([
      'boundary-f1',
      'composite',
      'dice',
      'f1',
      'iou',
      'pixel-accuracy',
    ]);
  });
});

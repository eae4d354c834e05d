import { expect } from 'chai';
import * as api from '../../src/index.js';

describe('the public API (src/index.ts)', () => {
  it('exports the bus, the registries, reward definition, envs, agents, model, data, metrics, training, sinks, report and runner', () => {
    const names = [
      'EventBus',
      'Rng',
      'Registry',
      'FprlError',
      'rewardRegistry',
      'defineReward',
      'registerBuiltinRewards',
      'envRegistry',
      'makeEnv',
      'FaceParsingEnv',
      'agentRegistry',
      'createAgent',
      'ReinforceAgent',
      'FaceTransformer',
      'SyntheticFaces',
      'openLapaFolder',
      'ConfusionMatrix',
      'train',
      'evaluate',
      'JsonlSink',
      'TensorBoardSink',
      'buildSummary',
      'writeReport',
      'loadExperiment',
      'runSweep',
      'executeRun',
    ];
    expect(names.filter((n) => !(n in api))).to.deep.equal([]);
  });

  it('lets a reward defined through the API be used by name in an experiment, its options checked by its schema', async () => {
    api.registerBuiltinRewards();
    const def = api.defineReward({
      name: 'api-test-reward',
      description: 'constant',
      optionsSchema: {
        type: 'object',
        properties: { k: { type: 'number', default: 1 } },
        additionalProperties: false,
      },
      range: [0, 1],
      compute: () => 0.5,
    });
    api.rewardRegistry.register(def);
    try {
      const { config } = await api.resolveExperiment({
        name: 'x',
        dataset: { kind: 'synthetic', size: 16 },
        model: { patchSize: 4 },
        agents: [{ name: 'rl', kind: 'reinforce', rewards: [{ plugin: 'api-test-reward' }] }],
      });
      expect(config.agents[0].rewards[0].options).to.deep.equal({ k: 1 }); // the plugin's default
      await api
        .resolveExperiment({
          name: 'x',
          dataset: { kind: 'synthetic', size: 16 },
          model: { patchSize: 4 },
          agents: [
            { name: 'rl', kind: 'reinforce', rewards: [{ plugin: 'api-test-reward', options: { k: 'a' } }] },
          ],
        })
        .then(
          () => expect.fail('should refuse'),
          (e: Error) =>
            expect(e.message).to.match(
              /\/agents\/0\/rewards\/0\/options\/k: must be number .*'api-test-reward'/,
            ),
        );
    } finally {
      api.rewardRegistry.unregister('api-test-reward');
    }
  });
});

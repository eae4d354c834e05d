/**
 * The smallest sweep with a fine-tune: 2 agents x 2 seeds (the RL agent starts from the CE run of
 * its seed), 16 px synthetic faces, a one-block ViT: a whole sweep in a few seconds on cpu. Used by
 * the sweep tests on one machine and on the work queue, which compare their numbers.
 */
export function tinySweepConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'tiny',
    dataset: { kind: 'synthetic', size: 16, train: 32, val: 8, test: 8, seed: 0 },
    model: { preset: 'tiny-64', patchSize: 4, dim: 16, depth: 1, heads: 2, mlpDim: 32, dropout: 0 },
    training: { steps: 4, batchSize: 4, evalEvery: 2, checkpointEvery: 2 },
    agents: [
      { name: 'ce', kind: 'supervised' },
      {
        name: 'rl',
        kind: 'reinforce',
        baseline: 'rloo',
        samples: 2,
        rewards: [{ plugin: 'dice' }],
        initFrom: 'ce',
      },
    ],
    seeds: [0, 1],
    evaluation: { pictures: 2, batchSize: 8 },
    ...extra,
  };
}

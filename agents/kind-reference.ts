/** The reference kinds, the floor of every comparison: `random` and `majority` (agents/reference.ts). */
import { builtinAgentProperties, checkBuiltinConfig, type AgentConfig } from './config.js';
import { defineAgent } from './define.js';
import { MajorityAgent, RandomAgent } from './reference.js';

export const randomKind = defineAgent<AgentConfig>({
  name: 'random',
  description: 'uniform random label per pixel (seeded): the floor',
  properties: builtinAgentProperties,
  policy: false,
  check: checkBuiltinConfig,
  create: (config, _policy, ctx) => new RandomAgent(config, ctx),
});

export const majorityKind = defineAgent<AgentConfig>({
  name: 'majority',
  description: "each pixel position's most frequent training class",
  properties: builtinAgentProperties,
  policy: false,
  check: checkBuiltinConfig,
  create: (config, _policy, ctx) => new MajorityAgent(config, ctx),
});

/** The `supervised` kind: per-pixel cross-entropy against the ground truth (agents/supervised.ts). */
import { builtinAgentProperties, checkBuiltinConfig, type AgentConfig } from './config.js';
import { defineAgent } from './define.js';
import { SupervisedAgent } from './supervised.js';

export const supervisedKind = defineAgent<AgentConfig>({
  name: 'supervised',
  description: 'per-pixel cross-entropy against the ground truth (class weights, label smoothing)',
  properties: builtinAgentProperties,
  policy: true,
  check: checkBuiltinConfig,
  create: (config, policy, ctx) => new SupervisedAgent(config, policy, ctx),
});

/** Agents: supervised cross-entropy, REINFORCE with baselines, reference agents, and the open registry of kinds. */
export * from './config.js';
export * from './base.js';
export * from './registry.js';
export * from './define.js';
export { importAgents } from './load.js';
export {
  BUILTIN_AGENT_KINDS,
  supervisedKind,
  reinforceKind,
  randomKind,
  majorityKind,
  checkReinforceConfig,
} from './builtin-kinds.js';
export { PolicyAgent } from './policy-agent.js';
export { SupervisedAgent } from './supervised.js';
export { ReinforceAgent, type RlExperience } from './reinforce.js';
export { RandomAgent, MajorityAgent } from './reference.js';
export { LinearPolicy, type LinearPolicyOptions } from './nets/linear.js';
export { ValueHead } from './value-head.js';
export {
  computeAdvantages,
  policyWeights,
  updateEma,
  type AdvantageInput,
  type Advantages,
} from './advantage.js';
export { sampleCategorical, argmaxRows } from './nets/sampling.js';
export { savePolicyWeights, loadPolicyWeights } from './policy-io.js';

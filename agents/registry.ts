/**
 * `agentRegistry`: kind -> factory `(config, policy, ctx) => Agent`. Built-ins are added by
 * an explicit `registerBuiltinAgents()` (idempotent); `createAgent` validates the config
 * (filling defaults) and registers the built-ins first.
 */
import type { Agent, PolicyNet } from '../src/types.js';
import { Registry } from '../src/registry.js';
import { FprlError } from '../src/errors.js';
import { resolveAgentConfig, type AgentConfig } from './config.js';
import type { AgentContext } from './base.js';
import { SupervisedAgent } from './supervised.js';
import { ReinforceAgent } from './reinforce.js';
import { MajorityAgent, RandomAgent } from './reference.js';

export type AgentFactoryArgs = [config: AgentConfig, policy: PolicyNet | undefined, ctx: AgentContext];
export const agentRegistry = new Registry<Agent, AgentFactoryArgs>('agent');

function needPolicy(kind: string, policy: PolicyNet | undefined): PolicyNet {
  if (!policy) {
    throw new FprlError(`a '${kind}' agent needs a policy network`, {
      where: `agent kind '${kind}'`,
      hint: 'create the Face Transformer (agents/vit) and pass it to the factory',
    });
  }
  return policy;
}

export function registerBuiltinAgents(): void {
  const entries = [
    {
      name: 'supervised',
      description: 'per-pixel cross-entropy against the ground truth (class weights, label smoothing)',
      create: (c: AgentConfig, p: PolicyNet | undefined, ctx: AgentContext) =>
        new SupervisedAgent(c, needPolicy('supervised', p), ctx),
    },
    {
      name: 'reinforce',
      description:
        'REINFORCE with a baseline (none, ema, self-critical, rloo, critic) and image or pixel credit',
      create: (c: AgentConfig, p: PolicyNet | undefined, ctx: AgentContext) =>
        new ReinforceAgent(c, needPolicy('reinforce', p), ctx),
    },
    {
      name: 'random',
      description: 'uniform random label per pixel (seeded): the floor',
      create: (c: AgentConfig, _p: PolicyNet | undefined, ctx: AgentContext) => new RandomAgent(c, ctx),
    },
    {
      name: 'majority',
      description: "each pixel position's most frequent training class",
      create: (c: AgentConfig, _p: PolicyNet | undefined, ctx: AgentContext) => new MajorityAgent(c, ctx),
    },
  ];
  for (const e of entries) if (!agentRegistry.has(e.name)) agentRegistry.register(e);
}

/**
 * Validate `config` (defaults filled) and create the agent of its kind. The agent owns
 * `policy` (disposes it). `where` names the config's place in the user's file for errors.
 */
export function createAgent(
  config: unknown,
  policy: PolicyNet | undefined,
  ctx: AgentContext,
  where = 'agent',
): Agent {
  registerBuiltinAgents();
  const numClasses = policy?.numClasses ?? ctx.numClasses ?? 11;
  const resolved = resolveAgentConfig(config, where, numClasses);
  return agentRegistry.create(resolved.kind, resolved, policy, { ...ctx, numClasses });
}

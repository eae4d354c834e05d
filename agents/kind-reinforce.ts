/**
 * The `reinforce` kind: REINFORCE with a baseline and image or pixel credit (agents/reinforce.ts).
 * Beyond the schema: rloo needs k >= 2 samples, the agent needs a reward, and pixel credit needs
 * rewards that give it.
 */
import { builtinAgentProperties, checkBuiltinConfig, type AgentConfig } from './config.js';
import { defineAgent, type AgentCheckContext, type AgentProblem } from './define.js';
import { ReinforceAgent } from './reinforce.js';

/** The REINFORCE rules (exported for kinds built on ReinforceAgent, such as examples/agents/). */
export function checkReinforceConfig(cfg: AgentConfig, ctx: AgentCheckContext): AgentProblem[] {
  const problems = checkBuiltinConfig(cfg, ctx);
  if (cfg.baseline === 'rloo' && cfg.samples < 2) {
    problems.push({
      path: '/samples',
      message: `baseline 'rloo' needs at least 2 samples per image, got ${cfg.samples}`,
      hint: 'set samples to 2 or more (4 is a good start), or choose another baseline',
    });
  }
  if (ctx.rewards && ctx.rewards.length === 0) {
    problems.push({
      path: '/rewards',
      message: `a ${cfg.kind} agent learns from rewards: give at least one, e.g. [{ "plugin": "dice" }]`,
    });
  }
  for (const r of ctx.rewards ?? []) {
    if (cfg.credit === 'image' || r.weight === 0 || !r.credit || r.credit.includes(cfg.credit)) continue;
    problems.push({
      path: `/rewards/${r.index}/plugin`,
      message:
        `reward plugin '${r.plugin}' gives no '${cfg.credit}' credit (it gives: ${r.credit.join(', ') || 'none'}), ` +
        `which the agent's credit asks for; choose credit 'image' or another reward`,
    });
  }
  return problems;
}

export const reinforceKind = defineAgent<AgentConfig>({
  name: 'reinforce',
  description: 'REINFORCE with a baseline (none, ema, self-critical, rloo, critic) and image or pixel credit',
  properties: builtinAgentProperties,
  policy: true,
  check: checkReinforceConfig,
  create: (config, policy, ctx) => new ReinforceAgent(config, policy, ctx),
});

/**
 * `agentRegistry`: kind -> definition (agents/define.ts): its config schema, whether it has a
 * policy network, its rules and its factory `(config, policy, ctx) => Agent`. The built-ins
 * (agents/kind-*.ts) are added by an explicit `registerBuiltinAgents()` (idempotent); a user's kinds
 * by `agentRegistry.register(defineAgent(...))` or an experiment's `agentModules`.
 */
import type { Agent, PolicyNet } from '../src/core/types.js';
import { Registry } from '../src/core/registry.js';
import { FprlError } from '../src/core/errors.js';
import { formatAjvErrors } from '../src/core/validate.js';
import { NUM_CLASSES } from '../src/core/classes.js';
import type { AgentContext } from './base.js';
import type { AgentDefinition, AgentFactoryArgs, AgentKindConfig } from './define.js';
import { BUILTIN_AGENT_KINDS } from './builtin-kinds.js';

export type AgentRegistry = Registry<Agent, AgentFactoryArgs, AgentDefinition>;
export const agentRegistry: AgentRegistry = new Registry<Agent, AgentFactoryArgs, AgentDefinition>('agent');

export function registerBuiltinAgents(registry: AgentRegistry = agentRegistry): void {
  for (const def of BUILTIN_AGENT_KINDS) if (!registry.has(def.name)) registry.register(def);
}

/** The hint of an unknown kind: what is registered and how to add one. */
export function unknownKindHint(registry: AgentRegistry = agentRegistry): string {
  return (
    `registered agent kinds: ${registry.names().join(', ') || '(none)'}; ` +
    'add your own with "agentModules" in the experiment (README: Write your own agent)'
  );
}

/** The registered definition of `kind`, or an FprlError that lists the registered kinds. */
export function agentKind(
  kind: unknown,
  where = 'agent',
  registry: AgentRegistry = agentRegistry,
): AgentDefinition {
  if (registry === agentRegistry) registerBuiltinAgents();
  if (typeof kind !== 'string' || !registry.has(kind)) {
    throw new FprlError(
      typeof kind === 'string' ? `unknown agent kind '${kind}'` : 'the agent config has no kind',
      { where: `${where}.kind`, hint: unknownKindHint(registry) },
    );
  }
  return registry.get(kind);
}

/**
 * Validate a (partial) agent config against its kind's schema, fill defaults, and check the
 * kind's rules (rloo needs k >= 2, class weights need one weight per class). `where` prefixes
 * the paths in errors.
 */
export function resolveAgentConfig<C extends { kind: string } = AgentKindConfig>(
  partial: unknown,
  where = 'agent',
  numClasses: number = NUM_CLASSES,
  registry: AgentRegistry = agentRegistry,
): C {
  const def = agentKind((partial as { kind?: unknown } | undefined)?.kind, where, registry);
  const cfg = structuredClone(partial) as AgentKindConfig;
  if (!def.validate(cfg)) {
    const lines = formatAjvErrors(def.validate.errors, where);
    throw new FprlError(`invalid configuration:\n  ${lines.join('\n  ')}`, {
      where,
      hint: `fields of a '${def.name}' agent: ${Object.keys(def.kind.properties).join(', ') || '(none)'}; experiments/schema.json describes each`,
    });
  }
  const problem = def.kind.check?.(cfg, { numClasses })[0];
  if (problem) {
    const at = where.startsWith('/')
      ? `${where}${problem.path}`
      : `${where}${problem.path.replace(/\//g, '.')}`;
    throw new FprlError(problem.message, { where: at, hint: problem.hint });
  }
  return cfg as unknown as C;
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
  registry: AgentRegistry = agentRegistry,
): Agent {
  const numClasses: number = policy?.numClasses ?? ctx.numClasses ?? NUM_CLASSES;
  const resolved = resolveAgentConfig<AgentKindConfig>(config, where, numClasses, registry);
  return registry.create(resolved.kind, resolved, policy, { ...ctx, numClasses });
}

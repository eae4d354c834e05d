/**
 * `defineAgent`: an agent kind is one plain object, checked when it is defined and registered
 * by name (`agentRegistry.register(def)`, or `agentModules` in an experiment). It says:
 * its name and a description, the ajv properties of its own config fields (defaults live
 * there), whether it learns a policy network, the rules its schema cannot say, and its factory.
 * The experiment schema is assembled from the registered kinds (src/experiment/schema.ts).
 */
import type { ValidateFunction } from 'ajv';
import { validatorFor } from '../src/core/validate.js';
import { FprlError } from '../src/core/errors.js';
import type { RegistryEntry } from '../src/core/registry.js';
import type { Agent, PolicyNet } from '../src/core/types.js';
import type { Rng } from '../src/core/rng.js';
import type { TrainingConfig } from '../src/optim/config.js';

const DEFINITION = Symbol.for('face-parsing-rl.agent-definition');

/** A resolved agent config: its `kind` plus the kind's own fields, defaults filled in. */
/** What an agent factory gets besides its config and policy. */
export interface AgentContext {
  /** The agent's own stream: sampling, dropout, random labels. Its state is saved with the agent. */
  rng: Rng;
  /** Optimiser, schedule and gradient clipping (defaults when absent). */
  training?: TrainingConfig;
  /** Planned optimiser steps, for the cosine schedule and the entropy decay. */
  totalSteps?: number;
  /** Display name (defaults to kind and baseline, e.g. `reinforce-rloo`). */
  name?: string;
  /** Classes of the label maps when there is no policy to say it (reference agents); default 11. */
  numClasses?: number;
}

export interface AgentKindConfig {
  kind: string;
  [field: string]: unknown;
}

/** A reward component of the agent's experiment entry, as a kind's `check` sees it. */
export interface AgentRewardInfo {
  /** Index in the entry's `rewards` (for the problem's path). */
  index: number;
  plugin: string;
  weight: number;
  /** The per-pixel credit the plugin gives; undefined when the plugin is unknown (reported elsewhere). */
  credit: readonly string[] | undefined;
}

/** What a kind's `check` gets besides the config. */
export interface AgentCheckContext {
  /** Classes of the label maps (11 for LaPa). */
  numClasses: number;
  /** The entry's reward components; absent when the agent is made outside an experiment. */
  rewards?: readonly AgentRewardInfo[];
}

/** One problem found by a kind's `check`. */
export interface AgentProblem {
  /** JSON pointer inside the agent entry: `/samples`, `/rewards/0/plugin`; '' for the entry. */
  path: string;
  message: string;
  /** What to do, when the message does not say it. */
  hint?: string;
}

interface AgentKindCommon<C extends { kind: string }> {
  /** Unique name: the `kind` of experiment entries. */
  name: string;
  /** One line shown in schema hints and errors. */
  description: string;
  /**
   * ajv (JSON Schema draft-07) properties of the kind's own fields, with their defaults; not
   * `kind` and not the fields every experiment entry has (name, description, rewards, initFrom,
   * training). Unknown fields are refused.
   */
  properties: Record<string, object>;
  /** Own fields that must be given. */
  required?: readonly string[];
  /** Rules the schema cannot say (e.g. rloo needs 2 samples); an empty list when all is well. */
  check?(config: C, ctx: AgentCheckContext): AgentProblem[];
}

/** A kind that learns a policy network: the factory gets the Face Transformer (or a test's net). */
export interface PolicyAgentKind<C extends { kind: string }> extends AgentKindCommon<C> {
  policy: true;
  create(config: C, policy: PolicyNet, ctx: AgentContext): Agent;
}

/** A kind without a policy network (e.g. the random and majority references). */
export interface PlainAgentKind<C extends { kind: string }> extends AgentKindCommon<C> {
  policy: false;
  create(config: C, policy: undefined, ctx: AgentContext): Agent;
}

export type AgentKindSpec<C extends { kind: string } = AgentKindConfig> =
  PolicyAgentKind<C> | PlainAgentKind<C>;

export type AgentFactoryArgs = [config: AgentKindConfig, policy: PolicyNet | undefined, ctx: AgentContext];

/** What `defineAgent` returns: a registry entry holding the kind. */
export interface AgentDefinition extends RegistryEntry<Agent, AgentFactoryArgs> {
  readonly kind: AgentKindSpec;
  /** Whether the kind learns a policy network (it is given one; initFrom works between such kinds). */
  readonly policy: boolean;
  /** Validates a config of this kind in place (defaults filled). */
  readonly validate: ValidateFunction;
  readonly [DEFINITION]: true;
}

/** Fields of every experiment agent entry: a kind cannot declare them. */
export const ENTRY_FIELDS = ['kind', 'name', 'description', 'rewards', 'initFrom', 'initWeights', 'training'] as const;

const NAME = /^[A-Za-z0-9][\w.@/-]*$/;

/** The JSON schema of a config of `kind` (its own fields plus `kind`). */
export function kindConfigSchema(kind: AgentKindSpec): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['kind', ...(kind.required ?? [])],
    properties: { kind: { const: kind.name }, ...kind.properties },
  };
}

/**
 * Check an agent kind and wrap it as a registry entry. Mistakes fail here, naming the kind:
 * ```ts
 * export default defineAgent<MyConfig>({ name: 'my-agent', description, properties, policy: true, create });
 * ```
 */
export function defineAgent<C extends { kind: string }>(kind: AgentKindSpec<C>): AgentDefinition {
  const raw = kind as unknown as Record<string, unknown> | undefined;
  const name = typeof raw?.name === 'string' ? raw.name : '';
  const where = `agent kind '${name || '?'}'`;
  const fail = (message: string, hint?: string): never => {
    throw new FprlError(message, { where, hint });
  };
  if (!raw || typeof raw !== 'object') fail('defineAgent needs a kind object');
  if (!NAME.test(name))
    fail(`name must be a non-empty identifier (letters, digits, - _ . / @), got '${name}'`);
  if (typeof kind.description !== 'string') fail('description must be a string');
  if (typeof kind.policy !== 'boolean')
    fail('policy must be true (the kind learns a policy network) or false');
  if (typeof kind.create !== 'function') fail('create(config, policy, ctx) must be a function');
  if (kind.check !== undefined && typeof kind.check !== 'function')
    fail('check must be a function when given');
  const props = kind.properties as unknown;
  if (!props || typeof props !== 'object' || Array.isArray(props))
    fail('properties must be an object of JSON schemas, one per config field ({} for none)');
  const clash = Object.keys(kind.properties).filter((k) => (ENTRY_FIELDS as readonly string[]).includes(k));
  if (clash.length)
    fail(
      `properties may not declare ${clash.join(', ')}: every experiment agent entry has ${ENTRY_FIELDS.join(', ')}`,
      'rename the field',
    );
  const missing = (kind.required ?? []).filter((k) => !(k in kind.properties));
  if (missing.length) fail(`required names fields that properties do not declare: ${missing.join(', ')}`);
  let validate: ValidateFunction;
  try {
    // The one ajv instance (strict schemas: a typo in a keyword fails when the kind is defined).
    validate = validatorFor(kindConfigSchema(kind as AgentKindSpec));
  } catch (e) {
    throw new FprlError(`properties are not valid JSON schemas: ${(e as Error).message}`, {
      where,
      hint: 'give each field a JSON Schema (draft-07), e.g. { type: "number", minimum: 0, default: 1 }',
      cause: e,
    });
  }
  const create = (config: AgentKindConfig, policy: PolicyNet | undefined, ctx: AgentContext): Agent => {
    if (kind.policy) {
      if (!policy) {
        throw new FprlError(`a '${name}' agent needs a policy network`, {
          where,
          hint: 'create the Face Transformer (agents/vit) and pass it to the factory',
        });
      }
      return kind.create(config as unknown as C, policy, ctx);
    }
    return kind.create(config as unknown as C, undefined, ctx);
  };
  return {
    name,
    description: kind.description,
    create,
    kind: kind as unknown as AgentKindSpec,
    policy: kind.policy,
    validate,
    [DEFINITION]: true,
  };
}

export function isAgentDefinition(x: unknown): x is AgentDefinition {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[DEFINITION] === true;
}

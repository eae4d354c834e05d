/**
 * One way to build an env and an agent from a config. `fprl run` (src/experiment/run-one.ts),
 * `fprl eval` and `predict` (src/experiment/load-run.ts), `fprl diagnose` and the benches all
 * come here: an env is made through the env registry, an agent through the agent registry with
 * the policy network its kind asks for (agents/define.ts `policy`), from named seed streams.
 */
import { buildPolicyNet } from '../../agents/nets/registry.js';
import { agentKind, agentRegistry, createAgent, type AgentRegistry } from '../../agents/registry.js';
import { makeEnv, registerBuiltinEnvs, type MakeEnvOptions } from '../../envs/registry.js';
import type { FaceParsingEnv } from '../../envs/face-parsing.js';
import { registerBuiltinRewards } from '../../rewards/registry.js';
import type { TrainingConfig } from '../optim/config.js';
import { FprlError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { Agent, PolicyArchitecture, PolicyNet } from '../core/types.js';

/** The streams of a run's env, initial weights and agent. */
export interface RunStreams {
  env: Rng;
  model: Rng;
  agent: Rng;
}

/**
 * The paired streams of the run with `seed`: every agent of a seed starts from the same weights
 * and sees the same batches, so differences between agents are not differences of luck. Forks
 * are derived from their labels, so the order they are taken in does not matter.
 */
export function runStreams(seed: number): RunStreams {
  const root = new Rng(seed, 'run');
  return { env: root.fork('env'), model: root.fork('model'), agent: root.fork('agent') };
}

/** A registered env (built-in envs and rewards registered first): `buildEnv('SyntheticFaces-v0', opts)`. */
export async function buildEnv(id: string, opts: MakeEnvOptions): Promise<FaceParsingEnv> {
  registerBuiltinEnvs();
  registerBuiltinRewards();
  return makeEnv(id, opts);
}

export interface AgentBuild {
  /** The agent's config: a registered `kind` and that kind's fields (validated here, defaults filled). */
  config: unknown;
  /** The policy network (kind and config, e.g. the experiment's model) made for a kind with one (ignored when `policy` is given). */
  model?: PolicyArchitecture;
  /** A policy network to use instead of a new one (benches, tests); the agent owns it. */
  policy?: PolicyNet;
  /** `agent`: the agent's own stream; `model`: the new policy's initial weights (needed when one is made). */
  streams: { agent: Rng; model?: Rng };
  training?: TrainingConfig;
  /** Planned optimiser steps (schedules). */
  totalSteps?: number;
  /** Display name. */
  name?: string;
  /** Where the config is in the user's file (`/agents/2`), for errors. */
  where?: string;
  registry?: AgentRegistry;
}

/**
 * The agent a config describes. A kind with a policy network gets `policy`, or a new Face
 * Transformer of `vit` drawn from `streams.model`; a kind without one gets none.
 */
export function buildAgent(b: AgentBuild): Agent {
  const registry = b.registry ?? agentRegistry;
  const where = b.where ?? 'agent';
  const kind = agentKind((b.config as { kind?: unknown } | undefined)?.kind, where, registry);
  let policy = b.policy;
  const made = kind.policy && !policy;
  if (made) {
    if (!b.model || !b.streams.model) {
      throw new FprlError(
        `a '${kind.name}' agent needs a policy network: give one, or its sizes and stream`,
        {
          where,
          hint: 'pass policy, or model (the network kind and config) and streams.model',
        },
      );
    }
    policy = buildPolicyNet(b.model, b.streams.model);
  }
  try {
    return createAgent(
      b.config,
      kind.policy ? policy : undefined,
      { rng: b.streams.agent, training: b.training, totalSteps: b.totalSteps, name: b.name },
      where,
      registry,
    );
  } catch (e) {
    if (made) policy?.dispose(); // a refused config leaves no weights behind
    throw e;
  }
}

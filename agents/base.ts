/**
 * What every agent in this folder shares: its context, what the trainer must give it
 * (`needs`), and the on-disk layout of a saved agent (`agent.json` plus tensor files).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Agent } from '../src/core/types.js';
import type { RngState } from '../src/core/rng.js';
import { FprlError } from '../src/core/errors.js';
import { writeFileAtomic } from '../src/core/atomic.js';
import type { AgentConfig } from './config.js';

/** What an agent factory gets besides its config and policy (defined with the kinds, agents/define.ts). */
export type { AgentContext } from './define.js';

/** What the trainer must put into an experience for this agent to learn. */
export interface AgentNeeds {
  /** Ground truth label maps (supervised targets, counts; RL agents use only its ignore mask). */
  target: boolean;
  /** Sampled labellings scored by the env. */
  reward: boolean;
  /** Also the reward of the greedy labelling (self-critical). */
  greedyReward: boolean;
  /** Labellings sampled per image. */
  samples: number;
  /** Per-pixel credit to ask the env for. */
  pixelCredit?: 'pixel' | 'difference';
}

/** An agent of this folder: an {@link Agent} plus what the trainer needs to drive and checkpoint it. */
export interface FprlAgent extends Agent {
  /** The registered kind that made it (agent.json records it; load refuses another kind's file). */
  readonly kind: string;
  readonly config: AgentConfig;
  readonly needs: AgentNeeds;
  /** Learning updates applied so far (restored by load). */
  readonly updates: number;
  /** Planned optimiser steps (cosine schedule, entropy decay); the trainer sets it from its config. */
  plannedSteps: number;
  /** Load only the policy weights of a saved agent (fine-tuning: optimiser and counters stay fresh). */
  initFrom(agentDir: string): Promise<void>;
  /** Add `delta` [C] to the policy's per-class output bias (`initLogitAdjustment`); `where` names the field for errors. */
  shiftClassBias?(delta: readonly number[], where: string): void;
}

export function isFprlAgent(a: Agent): a is FprlAgent {
  return (
    typeof (a as Partial<FprlAgent>).needs === 'object' &&
    typeof (a as Partial<FprlAgent>).initFrom === 'function'
  );
}

/** The JSON part of a saved agent. */
export interface AgentFile {
  format: 'fprl-agent/1';
  kind: string;
  name: string;
  config: AgentConfig;
  updates: number;
  rng: RngState;
  /** Kind-specific plain state (e.g. the reward moving average). */
  state: Record<string, unknown>;
}

export async function writeAgentFile(dir: string, file: AgentFile): Promise<void> {
  await writeFileAtomic(path.join(dir, 'agent.json'), `${JSON.stringify(file, null, 1)}\n`);
}

/** Read `agent.json` and check it was written by an agent of `kind`. */
export async function readAgentFile(dir: string, kind: string): Promise<AgentFile> {
  const p = path.join(dir, 'agent.json');
  let file: AgentFile;
  try {
    file = JSON.parse(await fs.readFile(p, 'utf8')) as AgentFile;
  } catch (e) {
    throw new FprlError(`cannot read the saved agent: ${(e as Error).message.split('\n')[0]}`, {
      where: p,
      hint: 'point at an agent folder written by fprl (a checkpoint holds one under agent/)',
    });
  }
  if (file.format !== 'fprl-agent/1') {
    throw new FprlError('not an fprl agent file', {
      where: p,
      hint: 'the file is corrupted or from another tool',
    });
  }
  if (file.kind !== kind) {
    throw new FprlError(`the saved agent is a '${file.kind}' agent, this one is '${kind}'`, {
      where: p,
      hint: `load it into a '${file.kind}' agent, or use initFrom to take only its policy weights`,
    });
  }
  return file;
}

export function defaultAgentName(config: AgentConfig): string {
  return config.kind === 'reinforce' ? `reinforce-${config.baseline}` : config.kind;
}

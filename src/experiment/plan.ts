/**
 * Planning a sweep: every agent x seed becomes one run (an agent's own `seeds` replace the
 * experiment's). An agent with `initFrom` starts from the final checkpoint of its source agent's
 * run with the same seed, or with `initSeed` for all its seeds, so agents are ordered
 * topologically (declaration order among independent agents) and a missing source, a source seed
 * that is not run, or a cycle is a config error naming the path.
 */
import type { ConfigIssue } from '../core/validate.js';

/** What planning needs to know about an agent. */
export interface PlannedAgent {
  name: string;
  initFrom?: string;
  /** The source run's seed for every seed of this agent (default: the same seed). */
  initSeed?: number;
  /** This agent's seeds instead of the sweep's. */
  seeds?: readonly number[];
}

/** The seeds an agent runs: its own, else the sweep's. */
export const seedsOf = (a: PlannedAgent, sweepSeeds: readonly number[]): readonly number[] =>
  a.seeds ?? sweepSeeds;

/** One training run of the sweep. */
export interface RunSpec {
  /** `<agent>/seed-<n>`: unique in the sweep, also the run's folder relative to the sweep folder. */
  id: string;
  agent: string;
  seed: number;
  /** Id of the run whose final checkpoint this one starts from. */
  initFrom?: string;
}

export const runId = (agent: string, seed: number): string => `${agent}/seed-${seed}`;

/**
 * Problems with agent names and `initFrom` links (duplicates, missing sources, cycles, source seeds
 * that are not run, `initSeed` without `initFrom`). `seeds`: the sweep's seeds.
 */
export function checkAgentGraph(
  agents: readonly PlannedAgent[],
  seeds: readonly number[] = [],
  basePath = '/agents',
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const index = new Map<string, number>();
  agents.forEach((a, i) => {
    if (index.has(a.name)) {
      issues.push({
        path: `${basePath}/${i}/name`,
        message: `agent name '${a.name}' is already used by ${basePath}/${index.get(a.name)}; names must be unique`,
      });
    } else index.set(a.name, i);
  });
  agents.forEach((a, i) => {
    if (a.initFrom !== undefined && !index.has(a.initFrom)) {
      issues.push({
        path: `${basePath}/${i}/initFrom`,
        message: `names no agent of this experiment ('${a.initFrom}'); agents: ${[...index.keys()].join(', ')}`,
      });
    }
  });
  agents.forEach((a, i) => {
    if (a.initSeed !== undefined && a.initFrom === undefined) {
      issues.push({
        path: `${basePath}/${i}/initSeed`,
        message: 'initSeed picks the seed of the initFrom run; give initFrom too, or remove initSeed',
      });
      return;
    }
    const src = a.initFrom === undefined ? undefined : agents[index.get(a.initFrom) ?? -1];
    if (!src) return;
    const have = new Set(seedsOf(src, seeds));
    const need = a.initSeed !== undefined ? [a.initSeed] : seedsOf(a, seeds);
    const missing = need.filter((s) => !have.has(s));
    if (missing.length) {
      issues.push({
        path: `${basePath}/${i}/${a.initSeed !== undefined ? 'initSeed' : 'initFrom'}`,
        message:
          `starts from ${a.initFrom}'s run with seed ${missing.join(', ')}, which is not run ` +
          `(${a.initFrom} runs seeds ${[...have].join(', ')}); ` +
          (a.initSeed !== undefined ? 'pick one of those' : 'add the seeds to its seeds, or set initSeed'),
      });
    }
  });
  // A cycle: follow initFrom links from each agent; report each cycle once, at its first member.
  const reported = new Set<string>();
  agents.forEach((a, i) => {
    const chain: string[] = [a.name];
    let cur = a.initFrom;
    while (cur !== undefined && index.has(cur)) {
      if (cur === a.name) {
        const key = [...chain].sort().join('\n');
        if (!reported.has(key)) {
          reported.add(key);
          issues.push({
            path: `${basePath}/${i}/initFrom`,
            message: `initFrom forms a cycle: ${[...chain, a.name].join(' -> ')}; a fine-tuning chain must start from an agent without initFrom`,
          });
        }
        break;
      }
      if (chain.includes(cur)) break; // a cycle further on, reported from one of its members
      chain.push(cur);
      cur = agents[index.get(cur)!].initFrom;
    }
  });
  return issues;
}

/** Agents in an order where every source precedes the agents that start from it (stable). */
export function orderAgents<A extends PlannedAgent>(agents: readonly A[]): A[] {
  const done = new Set<string>();
  const out: A[] = [];
  while (out.length < agents.length) {
    const before = out.length;
    for (const a of agents) {
      if (!done.has(a.name) && (a.initFrom === undefined || done.has(a.initFrom))) {
        done.add(a.name);
        out.push(a);
      }
    }
    if (out.length === before) throw new Error('orderAgents: initFrom graph has a cycle (check it first)');
  }
  return out;
}

/**
 * Every agent x seed, sources before the runs that start from them. The order is only a
 * preference for the scheduler: each run is seeded from (seed, agent) alone, so results do not
 * depend on which runs share a process or run at the same time.
 */
export function planSweep(agents: readonly PlannedAgent[], seeds: readonly number[]): RunSpec[] {
  const runs: RunSpec[] = [];
  for (const a of orderAgents(agents)) {
    for (const seed of seedsOf(a, seeds)) {
      runs.push({
        id: runId(a.name, seed),
        agent: a.name,
        seed,
        ...(a.initFrom !== undefined ? { initFrom: runId(a.initFrom, a.initSeed ?? seed) } : {}),
      });
    }
  }
  return runs;
}

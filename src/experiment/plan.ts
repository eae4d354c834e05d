/**
 * Planning a sweep: every agent x seed becomes one run. An agent with `initFrom` starts from
 * the final checkpoint of the same seed's run of its source agent, so agents are ordered
 * topologically (declaration order among independent agents) and a missing source or a cycle
 * is a config error naming the path.
 */
import type { ConfigIssue } from '../core/validate.js';

/** What planning needs to know about an agent. */
export interface PlannedAgent {
  name: string;
  initFrom?: string;
}

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

/** Problems with agent names and `initFrom` links (duplicates, missing sources, cycles). */
export function checkAgentGraph(agents: readonly PlannedAgent[], basePath = '/agents'): ConfigIssue[] {
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
    for (const seed of seeds) {
      runs.push({
        id: runId(a.name, seed),
        agent: a.name,
        seed,
        ...(a.initFrom !== undefined ? { initFrom: runId(a.initFrom, seed) } : {}),
      });
    }
  }
  return runs;
}

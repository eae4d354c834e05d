/** The built-in agent kinds, in the order the experiment schema lists them. */
import type { AgentDefinition } from './define.js';
import { majorityKind, randomKind } from './kind-reference.js';
import { reinforceKind } from './kind-reinforce.js';
import { supervisedKind } from './kind-supervised.js';

export { supervisedKind, reinforceKind, randomKind, majorityKind };
export { checkReinforceConfig } from './kind-reinforce.js';

export const BUILTIN_AGENT_KINDS: readonly AgentDefinition[] = [
  supervisedKind,
  reinforceKind,
  randomKind,
  majorityKind,
];

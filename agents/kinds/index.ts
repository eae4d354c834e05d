/** The built-in agent kinds, in the order the experiment schema lists them. */
import type { AgentDefinition } from '../define.js';
import { majorityKind, randomKind } from './reference.js';
import { reinforceKind } from './reinforce.js';
import { supervisedKind } from './supervised.js';

export { supervisedKind, reinforceKind, randomKind, majorityKind };
export { checkReinforceConfig } from './reinforce.js';

export const BUILTIN_AGENT_KINDS: readonly AgentDefinition[] = [
  supervisedKind,
  reinforceKind,
  randomKind,
  majorityKind,
];

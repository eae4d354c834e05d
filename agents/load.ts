import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FprlError, isFprlError } from '../src/core/errors.js';
import { isAgentDefinition } from './define.js';
import { agentRegistry, registerBuiltinAgents, type AgentRegistry } from './registry.js';

/**
 * Import a user's agent module and register every agent kind it exports (default or named
 * exports made with `defineAgent`), as `importRewards` does for rewards. Returns the registered
 * names. This is how an agent kind outside the package reaches experiment JSON (`agentModules`).
 * Importing the same module again is a no-op (the module cache returns the same definitions).
 */
export async function importAgents(
  file: string,
  registry: AgentRegistry = agentRegistry,
  opts: { replace?: boolean } = {},
): Promise<string[]> {
  if (registry === agentRegistry) registerBuiltinAgents();
  const abs = path.resolve(file);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (e) {
    throw new FprlError(`cannot import agent module: ${(e as Error).message.split('\n')[0]}`, {
      where: file,
      hint: 'give the path of a .js (or, under tsx, .ts) module that exports defineAgent(...) results',
      cause: e,
    });
  }
  const defs = [...new Set(Object.values(mod).filter(isAgentDefinition))];
  if (defs.length === 0) {
    throw new FprlError('the module exports no agent kind made with defineAgent', {
      where: file,
      hint: 'export default defineAgent({ name, description, properties, policy, create }) (README: Write your own agent)',
    });
  }
  for (const def of defs) {
    if (registry.has(def.name) && registry.get(def.name) === def) continue;
    try {
      registry.register(def, opts);
    } catch (e) {
      if (!isFprlError(e)) throw e;
      throw new FprlError(
        `agent kind '${def.name}' is already registered (a built-in or another module's kind)`,
        {
          where: file,
          hint: `rename the kind in ${path.basename(file)}; registered kinds: ${registry.names().join(', ')}`,
          cause: e,
        },
      );
    }
  }
  return defs.map((d) => d.name);
}

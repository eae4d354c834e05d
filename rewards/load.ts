import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FprlError } from '../src/core/errors.js';
import type { Registry } from '../src/core/registry.js';
import type { RewardPlugin } from '../src/core/types.js';
import { isRewardDefinition } from './define.js';
import { rewardRegistry } from './registry.js';

/**
 * Import a user's reward module and register every reward it exports (default or named
 * exports made with `defineReward`). Returns the registered names. This is how a reward file
 * outside the package reaches the CLI and experiment JSON (e.g. `fprl rewards list --import`).
 */
export async function importRewards(
  file: string,
  registry: Registry<RewardPlugin> = rewardRegistry,
  opts: { replace?: boolean } = {},
): Promise<string[]> {
  const abs = path.resolve(file);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (e) {
    throw new FprlError(`cannot import reward module: ${(e as Error).message.split('\n')[0]}`, {
      where: file,
      hint: 'give the path of a .js (or, under tsx, .ts) module that exports defineReward(...) results',
      cause: e,
    });
  }
  const defs = [...new Set(Object.values(mod).filter(isRewardDefinition))];
  if (defs.length === 0) {
    throw new FprlError('the module exports no reward made with defineReward', {
      where: file,
      hint: 'export default defineReward({ name, description, optionsSchema, range, compute })',
    });
  }
  for (const def of defs) registry.register(def, opts);
  return defs.map((d) => d.name);
}

import { FprlError } from '../src/core/errors.js';
import type { Registry } from '../src/core/registry.js';
import type { RewardPlugin } from '../src/core/types.js';
import { isRewardDefinition } from './define.js';
import { rewardRegistry } from './registry.js';

/**
 * Register every reward an imported module exports (default or named exports made with
 * `defineReward`) and return their names; `file` names the module in errors. Importing is the
 * caller's: Node's `importRewards` (src/experiment/import-rewards.ts) imports a file, the browser
 * page (src/web/) a bundle served by `fprl serve`; both land here, so a module registers the same
 * rewards in training and in the page.
 */
export function registerRewardModule(
  mod: Record<string, unknown>,
  file: string,
  registry: Registry<RewardPlugin> = rewardRegistry,
  opts: { replace?: boolean } = {},
): string[] {
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

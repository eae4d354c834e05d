import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FprlError } from '../core/errors.js';
import type { Registry } from '../core/registry.js';
import type { RewardPlugin } from '../core/types.js';
import { registerRewardModule, rewardRegistry } from '../../rewards/index.js';

/**
 * Import a user's reward module and register every reward it exports (default or named
 * exports made with `defineReward`). Returns the registered names. This is how a reward file
 * outside the package reaches the CLI and experiment JSON (e.g. `fprl rewards list --import`).
 * It lives here, not in rewards/, because importing a file is Node's business: rewards/ also
 * runs in the browser (see `registerRewardModule`, which both use).
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
  return registerRewardModule(mod, file, registry, opts);
}

/** `fprl rewards list [--import FILE...] [--json]`: the registered rewards, their ranges and options. */
import type { Command } from 'commander';
import type { Registry } from '../core/registry.js';
import type { RewardPlugin } from '../core/types.js';
import { importRewards } from '../experiment/import-rewards.js';
import {
  optionInfo,
  registerBuiltinRewards,
  rewardRegistry,
  type OptionInfo,
} from '../../rewards/index.js';

export interface RewardInfo {
  name: string;
  description: string;
  /** Declared range (for a reward whose range depends on its options, the widest one). */
  range: readonly [number, number];
  /** The range follows from the options (e.g. a composite's weights and parts). */
  rangeFromOptions: boolean;
  /** Per-pixel credit kinds the reward gives. */
  credit: readonly string[];
  options: OptionInfo[];
}

/** Describe every registered reward (built-ins registered first, then each `imports` module). */
export async function listRewards(
  opts: { imports?: string[]; registry?: Registry<RewardPlugin> } = {},
): Promise<RewardInfo[]> {
  const registry = opts.registry ?? rewardRegistry;
  registerBuiltinRewards(registry);
  for (const file of opts.imports ?? []) await importRewards(file, registry);
  return registry.list().map((entry) => {
    const plugin = entry.create();
    return {
      name: plugin.name,
      description: plugin.description,
      range: plugin.range,
      rangeFromOptions: typeof plugin.rangeFor === 'function',
      credit: plugin.credit ?? [],
      options: optionInfo(plugin),
    };
  });
}

export function formatRewards(infos: RewardInfo[]): string {
  const blocks = infos.map((r) => {
    const range = r.rangeFromOptions ? 'range from options' : r.range.join(', ');
    const head = `${r.name}  [${range}]${r.credit.length ? `  pixel credit: ${r.credit.join(', ')}` : ''}\n  ${r.description}`;
    const opts = r.options.map((o) => {
      const def =
        o.default !== undefined ? ` = ${JSON.stringify(o.default)}` : o.required ? ' (required)' : '';
      return `    ${o.name}: ${o.type}${def}${o.description ? `\n        ${o.description}` : ''}`;
    });
    return opts.length ? `${head}\n  options:\n${opts.join('\n')}` : head;
  });
  return blocks.join('\n\n');
}

export function register(program: Command): void {
  const rewards = program.command('rewards').description('reward plugins');
  rewards
    .command('list')
    .description('list registered rewards with their ranges, pixel credit and options (from their schemas)')
    .option('--import <files...>', 'reward modules to register first (files exporting defineReward(...))')
    .option('--json', 'print as JSON')
    .action(async (opts: { import?: string[]; json?: boolean }) => {
      const infos = await listRewards({ imports: opts.import });
      process.stdout.write(`${opts.json ? JSON.stringify(infos, null, 2) : formatRewards(infos)}\n`);
    });
}

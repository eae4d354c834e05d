import type { ValidateFunction } from 'ajv';
import { FprlError } from '../src/core/errors.js';
import { formatAjvErrors, validatorFor } from '../src/core/validate.js';
import type { RegistryEntry } from '../src/core/registry.js';
import type { PixelCreditKind, RewardPlugin } from '../src/core/types.js';

const DEFINITION = Symbol.for('face-parsing-rl.reward-definition');

/** What `defineReward` returns: a registry entry (`rewardRegistry.register(def)`) holding the plugin. */
export interface RewardDefinition<Opts = unknown> extends RegistryEntry<RewardPlugin, []> {
  readonly plugin: RewardPlugin<Opts>;
  readonly [DEFINITION]: true;
}

const NAME = /^[A-Za-z0-9][\w.@/-]*$/;
const CREDIT_KINDS: readonly PixelCreditKind[] = ['pixel', 'difference'];

/**
 * Check a reward plugin and wrap it as a registry entry. Typos fail here, with the plugin's
 * name, instead of at the first training step:
 * ```ts
 * rewardRegistry.register(defineReward<{ cls: number }>({ name: 'class-iou', ... }));
 * ```
 */
export function defineReward<Opts = unknown>(plugin: RewardPlugin<Opts>): RewardDefinition<Opts> {
  const raw = plugin as unknown as Record<string, unknown> | undefined;
  const name = typeof raw?.name === 'string' ? raw.name : '';
  const where = `reward plugin '${name || '?'}'`;
  const fail = (message: string, hint?: string): never => {
    throw new FprlError(message, { where, hint });
  };
  if (!raw || typeof raw !== 'object') fail('defineReward needs a plugin object');
  if (!NAME.test(name))
    fail(`name must be a non-empty identifier (letters, digits, - _ . / @), got '${name}'`);
  if (typeof plugin.description !== 'string')
    fail('description must be a string (shown by `fprl rewards list`)');
  const r = plugin.range as unknown;
  if (
    !Array.isArray(r) ||
    r.length !== 2 ||
    r.some((x) => typeof x !== 'number' || Number.isNaN(x)) ||
    r[0] > r[1]
  ) {
    fail(`range must be [min, max] numbers with min <= max, got ${JSON.stringify(r)}`);
  }
  if (typeof plugin.compute !== 'function') fail('compute(pred, target, ctx, opts) must be a function');
  if (plugin.pixelCredit !== undefined) {
    if (typeof plugin.pixelCredit !== 'function') fail('pixelCredit must be a function when given');
    const kinds = plugin.credit as unknown;
    if (!Array.isArray(kinds) || kinds.length === 0 || kinds.some((k) => !CREDIT_KINDS.includes(k))) {
      fail(`declare the kinds pixelCredit gives, e.g. credit: ['pixel'] (from ${CREDIT_KINDS.join(', ')})`);
    }
  } else if (plugin.credit !== undefined && plugin.credit.length > 0) {
    fail(`credit lists ${plugin.credit.join(', ')} but there is no pixelCredit function`);
  }
  optionsValidator(plugin as RewardPlugin);
  return {
    name,
    description: plugin.description,
    create: () => plugin as RewardPlugin,
    plugin,
    [DEFINITION]: true,
  };
}

export function isRewardDefinition(x: unknown): x is RewardDefinition {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[DEFINITION] === true;
}

/**
 * The compiled options validator of a plugin (src/core/validate.ts: defaults filled in, every problem
 * listed; a typo in a schema keyword fails here, when the reward is defined).
 */
export function optionsValidator(plugin: RewardPlugin): ValidateFunction {
  try {
    return validatorFor(plugin.optionsSchema as object);
  } catch (e) {
    throw new FprlError(`optionsSchema is not a valid JSON schema: ${(e as Error).message}`, {
      where: `reward plugin '${plugin.name}'`,
      hint: 'write a JSON Schema (draft-07) object schema: { type: "object", properties: {...} }',
      cause: e,
    });
  }
}

/**
 * Validate `options` against the plugin's schema and return a copy with the schema's defaults
 * filled in. Every problem is listed with its path; `where` names the component, so the user
 * knows which entry of which config to fix.
 */
export function resolveOptions<Opts>(plugin: RewardPlugin<Opts>, options: unknown, where: string): Opts {
  const validate = optionsValidator(plugin as RewardPlugin);
  const copy = options === undefined ? {} : structuredClone(options);
  if (!validate(copy)) {
    const problems = formatAjvErrors(validate.errors, '/options');
    throw new FprlError(`invalid options for plugin '${plugin.name}':\n  ${problems.join('\n  ')}`, {
      where,
      hint: `options of '${plugin.name}': ${describeOptions(plugin as RewardPlugin) || '(none)'}`,
    });
  }
  try {
    (plugin as RewardPlugin).check?.(copy);
  } catch (e) {
    // Keep the outer location (which component of which config) in front of the plugin's own.
    if (!(e instanceof FprlError)) throw new FprlError((e as Error).message, { where, cause: e });
    throw new FprlError(e.message, {
      where: e.where ? `${where}, ${e.where}` : where,
      hint: e.hint,
      cause: e,
    });
  }
  return copy as Opts;
}

/** One option of a plugin's schema, for `fprl rewards list` and error hints. */
export interface OptionInfo {
  name: string;
  type: string;
  default?: unknown;
  description?: string;
  required: boolean;
}

/** The top-level options a plugin's schema declares. */
export function optionInfo(plugin: RewardPlugin): OptionInfo[] {
  const schema = plugin.optionsSchema as {
    properties?: Record<string, Record<string, unknown>>;
    required?: string[];
  };
  return Object.entries(schema.properties ?? {}).map(([name, prop]) => ({
    name,
    type: describeType(prop),
    default: prop.default,
    description: typeof prop.description === 'string' ? prop.description : undefined,
    required: (schema.required ?? []).includes(name),
  }));
}

function describeType(prop: Record<string, unknown>): string {
  if (Array.isArray(prop.enum)) return prop.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (prop.type === 'array') {
    const items = prop.items as Record<string, unknown> | undefined;
    return `${items ? describeType(items) : 'any'}[]`;
  }
  const t = Array.isArray(prop.type) ? prop.type.join(' | ') : String(prop.type ?? 'any');
  const bounds = [
    prop.minimum !== undefined ? `>= ${String(prop.minimum)}` : '',
    prop.maximum !== undefined ? `<= ${String(prop.maximum)}` : '',
  ].filter(Boolean);
  return bounds.length ? `${t} (${bounds.join(', ')})` : t;
}

function describeOptions(plugin: RewardPlugin): string {
  return optionInfo(plugin)
    .map((o) => `${o.name}: ${o.type}${o.default !== undefined ? ` = ${JSON.stringify(o.default)}` : ''}`)
    .join(', ');
}

/** The reward range for these (resolved) options. */
export function rangeOf<Opts>(plugin: RewardPlugin<Opts>, opts: Opts): readonly [number, number] {
  return plugin.rangeFor ? plugin.rangeFor(opts) : plugin.range;
}

import { Subscription } from 'rxjs';
import type { BusEvent, EventBus } from '../src/core/bus.js';
import { IGNORE_INDEX, NUM_CLASSES } from '../src/core/classes.js';
import { FprlError } from '../src/core/errors.js';
import type { Registry } from '../src/core/registry.js';
import type { RewardContext, RewardPlugin, RewardSpec } from '../src/core/types.js';
import { rangeOf, resolveOptions } from './define.js';
import { rewardRegistry } from './registry.js';
import { checkCredit, checkValue, describeValue } from './answer-check.js';
import { settleAll } from './settle.js';

/** A reward component resolved and validated for one env. */
export interface AttachedComponent {
  name: string;
  plugin: RewardPlugin;
  weight: number;
  /** Options with the schema's defaults filled in. */
  options: unknown;
  /** The plugin's range for these options. */
  range: readonly [number, number];
  /** Names the component in error messages: `reward component 'x' (plugin 'f1')`. */
  where: string;
}

/**
 * A live attachment of reward components to a bus. Unsubscribing detaches them (answers still
 * in flight are dropped). `range` is the range of the weighted sum of the components.
 */
export class RewardAttachment extends Subscription {
  constructor(
    readonly components: readonly AttachedComponent[],
    readonly range: readonly [number, number],
  ) {
    super();
  }
}

/**
 * Resolve and validate reward components: unique names, registered plugins, finite weights,
 * options per each plugin's schema (defaults filled in) and its `check`. Every error names the
 * component and the plugin.
 */
export function resolveComponents(
  specs: readonly RewardSpec[],
  registry: Registry<RewardPlugin> = rewardRegistry,
): AttachedComponent[] {
  if (!Array.isArray(specs) || specs.length === 0) {
    throw new FprlError('no reward components', {
      where: 'rewards',
      hint: 'give at least one: [{ "name": "f1", "plugin": "f1", "weight": 1 }]',
    });
  }
  const seen = new Set<string>();
  return specs.map((spec, i) => {
    const where = `reward component '${spec?.name ?? i}' (plugin '${spec?.plugin ?? '?'}')`;
    if (typeof spec?.name !== 'string' || spec.name === '') {
      throw new FprlError('needs a non-empty "name"', { where: `rewards[${i}]` });
    }
    if (seen.has(spec.name)) {
      throw new FprlError(`the name '${spec.name}' is used twice`, {
        where,
        hint: 'give each component its own name',
      });
    }
    seen.add(spec.name);
    if (typeof spec.weight !== 'number' || !Number.isFinite(spec.weight)) {
      throw new FprlError(`weight must be a finite number, got ${describeValue(spec.weight)}`, { where });
    }
    if (typeof spec.plugin !== 'string' || !registry.has(spec.plugin)) {
      const builtins = registry.has('f1') ? '' : ' (built-ins are added by registerBuiltinRewards())';
      throw new FprlError(`unknown reward plugin '${String(spec.plugin)}'`, {
        where,
        hint: `registered rewards: ${registry.names().join(', ') || '(none)'}${builtins}`,
      });
    }
    const plugin = registry.create(spec.plugin);
    const options = resolveOptions(plugin, spec.options, where);
    return { name: spec.name, plugin, weight: spec.weight, options, range: rangeOf(plugin, options), where };
  });
}

/** Range of sum_c weight_c * value_c. */
export function combinedRange(components: readonly AttachedComponent[]): [number, number] {
  let lo = 0;
  let hi = 0;
  for (const c of components) {
    if (c.weight === 0) continue;
    lo += Math.min(c.weight * c.range[0], c.weight * c.range[1]);
    hi += Math.max(c.weight * c.range[0], c.weight * c.range[1]);
  }
  return [lo, hi];
}

/**
 * Attach reward components to a bus: each answers every `env:action` with a `reward` event
 * (one value per scored image, plus per-pixel credit when asked) or a `reward:error` naming
 * the component and plugin. Plugins may answer synchronously, with a Promise or with an
 * Observable. Nothing thrown here escapes into RxJS (which would rethrow it asynchronously
 * and crash the process): every failure becomes a `reward:error` that the env turns into a
 * rejected step.
 */
export function attachRewards(
  bus: EventBus,
  specs: readonly RewardSpec[],
  opts: {
    registry?: Registry<RewardPlugin>;
    /** Answer only actions published on this channel (an env's own); default: every action. */
    channel?: string;
  } = {},
): RewardAttachment {
  const components = resolveComponents(specs, opts.registry);
  const attachment = new RewardAttachment(components, combinedRange(components));
  const ours = (e: BusEvent<'env:action'>) => opts.channel === undefined || e.channel === opts.channel;
  for (const c of components) {
    attachment.add(
      bus.on('env:action').subscribe((e) => {
        if (!ours(e)) return;
        const answer = (values: Float32Array, pixel?: Float32Array) => {
          if (!attachment.closed) {
            bus.emit('reward', {
              requestId: e.requestId,
              component: c.name,
              plugin: c.plugin.name,
              values,
              pixel,
            });
          }
        };
        const fail = (error: unknown) => {
          if (!attachment.closed) {
            bus.emit('reward:error', {
              requestId: e.requestId,
              component: c.name,
              plugin: c.plugin.name,
              error: asComponentError(error, c),
            });
          }
        };
        try {
          const result = scoreAction(c, e);
          if (result instanceof Promise) result.then((r) => answer(r.values, r.pixel), fail);
          else answer(result.values, result.pixel);
        } catch (error) {
          fail(error);
        }
      }),
    );
  }
  return attachment;
}

type Scored = { values: Float32Array; pixel?: Float32Array };

/** Score every image of one action with one component; sync when the plugin is. */
function scoreAction(c: AttachedComponent, e: BusEvent<'env:action'>): Scored | Promise<Scored> {
  const hw = e.height * e.width;
  const ctx: RewardContext = {
    height: e.height,
    width: e.width,
    numClasses: e.numClasses ?? NUM_CLASSES,
    ignoreIndex: e.ignoreIndex ?? IGNORE_INDEX,
  };
  const image = (i: number) => [
    e.action.subarray(i * hw, (i + 1) * hw),
    e.target.subarray(i * hw, (i + 1) * hw),
  ];
  // Credit first: a missing kind fails before any (possibly slow) scoring starts.
  const pixel = e.pixelCredit ? creditOf(c, e, ctx, image) : undefined;
  const answers = Array.from({ length: e.count }, (_, i) => {
    const [pred, target] = image(i);
    try {
      return c.plugin.compute(pred, target, ctx, c.options);
    } catch (error) {
      throw asComponentError(error, c, `threw on image ${i} (${e.ids[i % e.ids.length] ?? '?'})`);
    }
  });
  const check = (values: unknown[]): Scored => {
    const out = new Float32Array(e.count);
    values.forEach((v, i) => {
      out[i] = checkValue(v, c.range, c.where, `image ${i} (${e.ids[i % e.ids.length] ?? '?'})`);
    });
    return { values: out, pixel };
  };
  const settled = settleAll(answers);
  return settled instanceof Promise
    ? settled.then(check, (error) => Promise.reject(asComponentError(error, c, 'failed asynchronously')))
    : check(settled);
}

function creditOf(
  c: AttachedComponent,
  e: BusEvent<'env:action'>,
  ctx: RewardContext,
  image: (i: number) => Int32Array[],
): Float32Array {
  const kind = e.pixelCredit!;
  if (!c.plugin.pixelCredit || !(c.plugin.credit ?? []).includes(kind)) {
    throw new FprlError(
      `gives no '${kind}' pixel credit (it gives: ${(c.plugin.credit ?? []).join(', ') || 'none'})`,
      {
        where: c.where,
        hint: `use image-level credit, or give this component weight in a plugin with '${kind}' credit`,
      },
    );
  }
  const hw = e.height * e.width;
  const out = new Float32Array(e.count * hw);
  for (let i = 0; i < e.count; i++) {
    const [pred, target] = image(i);
    const at = `image ${i} (${e.ids[i % e.ids.length] ?? '?'})`;
    let credit: unknown;
    try {
      credit = c.plugin.pixelCredit(pred, target, ctx, c.options, kind);
    } catch (error) {
      throw asComponentError(error, c, `pixelCredit threw on ${at}`);
    }
    out.set(checkCredit(credit, hw, c.where, at), i * hw);
  }
  return out;
}

/** Wrap anything thrown by a plugin so the message names the component and plugin. */
function asComponentError(error: unknown, c: AttachedComponent, at = ''): FprlError {
  if (error instanceof FprlError && error.where?.includes(c.where)) return error;
  const inner =
    error instanceof FprlError ? error.describe() : error instanceof Error ? error.message : String(error);
  return new FprlError(`${at ? `${at}: ` : ''}${inner}`, { where: c.where, cause: error });
}

import { FprlError } from '../src/core/errors.js';
import type { Registry } from '../src/core/registry.js';
import type { RewardPlugin } from '../src/core/types.js';
import { rangeOf, resolveOptions } from './define.js';
import { checkCredit, checkValue } from './answer-check.js';
import { settle, settleAll } from './settle.js';

export interface CompositeOptions {
  parts: { plugin: string; weight: number; options?: Record<string, unknown> }[];
}

interface Part {
  plugin: RewardPlugin;
  weight: number;
  options: unknown;
  range: readonly [number, number];
  where: string;
}

/**
 * A weighted sum of other registered rewards, as one named reward: e.g. 0.7 * f1 + 0.3 *
 * boundary-f1 as a single reward for self-critical baselines or a reusable preset. Parts are
 * resolved (and their options validated) once per options object. The range is the weighted
 * sum of the parts' ranges. Pixel credit is the weighted sum of the parts' credits (the
 * difference of a weighted sum is the weighted sum of the differences), so every part must
 * give the kind asked for.
 */
export function compositeReward(registry: Registry<RewardPlugin>): RewardPlugin<CompositeOptions> {
  const prepared = new WeakMap<CompositeOptions, Part[]>();
  const partsOf = (opts: CompositeOptions): Part[] => {
    let parts = prepared.get(opts);
    if (!parts) {
      parts = opts.parts.map((p, i) => {
        const where = `composite part ${i} ('${p.plugin}')`;
        if (!registry.has(p.plugin)) {
          throw new FprlError(`unknown reward plugin '${p.plugin}'`, {
            where,
            hint: `registered rewards: ${registry.names().join(', ') || '(none)'}`,
          });
        }
        const plugin = registry.create(p.plugin);
        const options = resolveOptions(plugin, p.options, where);
        return { plugin, weight: p.weight, options, range: rangeOf(plugin, options), where };
      });
      prepared.set(opts, parts);
    }
    return parts;
  };
  return {
    name: 'composite',
    description: 'weighted sum of other rewards by name: parts [{ plugin, weight, options }]',
    optionsSchema: {
      type: 'object',
      properties: {
        parts: {
          type: 'array',
          minItems: 1,
          description: 'rewards to add up: [{ plugin, weight, options? }]',
          items: {
            type: 'object',
            properties: {
              plugin: { type: 'string', minLength: 1 },
              weight: { type: 'number' },
              options: { type: 'object' },
            },
            required: ['plugin', 'weight'],
            additionalProperties: false,
          },
        },
      },
      required: ['parts'],
      additionalProperties: false,
    },
    range: [-Infinity, Infinity],
    credit: ['pixel', 'difference'],
    check(opts) {
      partsOf(opts);
    },
    rangeFor(opts) {
      let lo = 0;
      let hi = 0;
      for (const p of partsOf(opts)) {
        const a = p.weight * p.range[0];
        const b = p.weight * p.range[1];
        lo += p.weight === 0 ? 0 : Math.min(a, b);
        hi += p.weight === 0 ? 0 : Math.max(a, b);
      }
      return [lo, hi];
    },
    compute(pred, target, ctx, opts) {
      const parts = partsOf(opts);
      const combine = (values: unknown[]): number => {
        let sum = 0;
        values.forEach((value, i) => {
          const p = parts[i];
          const v = checkValue(value, p.range, p.where, 'this image');
          if (p.weight !== 0) sum += p.weight * v;
        });
        return sum;
      };
      const values = settleAll(
        parts.map((p) => {
          try {
            const answer = settle(p.plugin.compute(pred, target, ctx, p.options));
            return answer instanceof Promise
              ? answer.catch((error) => Promise.reject(partError(error, p)))
              : answer;
          } catch (error) {
            throw partError(error, p);
          }
        }),
      );
      return values instanceof Promise ? values.then(combine) : combine(values);
    },
    pixelCredit(pred, target, ctx, opts, kind) {
      const out = new Float32Array(pred.length);
      for (const p of partsOf(opts)) {
        if (!p.plugin.pixelCredit || !(p.plugin.credit ?? []).includes(kind)) {
          throw new FprlError(`gives no '${kind}' pixel credit, so the composite cannot`, {
            where: p.where,
            hint: 'drop the pixel credit or this part',
          });
        }
        let answer: unknown;
        try {
          answer = p.plugin.pixelCredit(pred, target, ctx, p.options, kind);
        } catch (error) {
          throw partError(error, p, 'pixelCredit threw');
        }
        const credit = checkCredit(answer, out.length, p.where);
        for (let i = 0; i < out.length; i++) out[i] += p.weight * credit[i];
      }
      return out;
    },
  };
}

/** Anything a part throws or rejects with, as an FprlError naming the part and its plugin. */
function partError(error: unknown, p: Part, at = ''): FprlError {
  if (error instanceof FprlError && error.where === p.where) return error;
  const inner =
    error instanceof FprlError ? error.describe() : error instanceof Error ? error.message : String(error);
  return new FprlError(`${at ? `${at}: ` : ''}${inner}`, { where: p.where, cause: error });
}

/**
 * Turning validation failures into messages a person can act on: each problem names its
 * JSON path (`/agents/2/baseline`) and what is allowed there (the enum values, the type,
 * the bound, the known keys). Every problem is listed at once, so a config is fixed in
 * one edit instead of one error per run.
 */
import type { ErrorObject } from 'ajv';
import { FprlError } from '../errors.js';

/** One problem in a config. */
export interface ConfigIssue {
  /** JSON pointer, '' for the document root. */
  path: string;
  message: string;
}

const show = (v: unknown): string => {
  if (typeof v === 'string') return `'${v}'`;
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

const list = (vs: readonly unknown[]): string => vs.map(show).join(', ');

/**
 * One ajv error (compiled with `verbose: true`, so `data` and `parentSchema` are present)
 * as a path and a message. `prefix` is prepended to the path (a sub-document's location).
 */
export function describeAjvError(e: ErrorObject, prefix = ''): ConfigIssue {
  const path = prefix + e.instancePath;
  const p = e.params as Record<string, unknown>;
  const parent = (e.parentSchema ?? {}) as Record<string, unknown>;
  const got = e.data === undefined ? '' : ` (got ${show(e.data)})`;
  switch (e.keyword) {
    case 'additionalProperties': {
      const known = Object.keys((parent.properties as object | undefined) ?? {});
      const key = String(p.additionalProperty);
      return {
        path: `${path}/${key}`,
        message: `unknown key '${key}'${known.length ? `; allowed keys: ${known.join(', ')}` : ''}`,
      };
    }
    case 'required':
      return { path: `${path}/${String(p.missingProperty)}`, message: 'is required but missing' };
    case 'enum':
      return { path, message: `must be one of ${list(p.allowedValues as unknown[])}${got}` };
    case 'const':
      return { path, message: `must be ${show(p.allowedValue)}${got}` };
    case 'type':
      return { path, message: `must be ${String(p.type).replace(/,/g, ' or ')}${got}` };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { path, message: `must be ${String(p.comparison)} ${String(p.limit)}${got}` };
    case 'minItems':
      return { path, message: `must have at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}` };
    case 'maxItems':
      return { path, message: `must have at most ${String(p.limit)} items` };
    case 'minLength':
      return {
        path,
        message: `must be at least ${String(p.limit)} character${p.limit === 1 ? '' : 's'} long${got}`,
      };
    case 'uniqueItems':
      return { path, message: `must not repeat items (items ${String(p.j)} and ${String(p.i)} are equal)` };
    case 'pattern':
      return { path, message: `must match ${String(p.pattern)}${got}` };
    case 'multipleOf':
      return { path, message: `must be a multiple of ${String(p.multipleOf)}${got}` };
    case 'discriminator': {
      const tag = String(p.tag);
      const options = ((parent.oneOf as Record<string, unknown>[] | undefined) ?? [])
        .map((s) => (s.properties as Record<string, { const?: unknown }> | undefined)?.[tag]?.const)
        .filter((x) => x !== undefined);
      return p.error === 'tag'
        ? { path: `${path}/${tag}`, message: `is required, one of ${list(options)}` }
        : { path: `${path}/${tag}`, message: `must be one of ${list(options)} (got ${show(p.tagValue)})` };
    }
    default:
      return { path, message: `${e.message ?? 'is invalid'}${got}` };
  }
}

/** ajv errors as issues, without duplicates (ajv can report one problem twice). */
export function describeAjvErrors(
  errors: readonly ErrorObject[] | null | undefined,
  prefix = '',
): ConfigIssue[] {
  const seen = new Set<string>();
  const out: ConfigIssue[] = [];
  for (const e of errors ?? []) {
    const issue = describeAjvError(e, prefix);
    const key = `${issue.path}\n${issue.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(issue);
    }
  }
  return out;
}

/** One FprlError listing every issue, one per line, `where` naming the file. */
export function configError(
  issues: readonly ConfigIssue[],
  where: string | undefined,
  hint?: string,
): FprlError {
  const lines = issues.map((i) => `  ${i.path || '/'}: ${i.message}`);
  const n = issues.length;
  return new FprlError(
    `invalid experiment config (${n} problem${n === 1 ? '' : 's'}):\n${lines.join('\n')}`,
    {
      where,
      hint:
        hint ??
        'fix the listed keys; experiments/schema.json describes every field (editors validate with it)',
    },
  );
}

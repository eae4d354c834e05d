/**
 * The one ajv instance of the project, and the one way its errors are told to a person. Every
 * schema (experiments, agent and training configs, reward plugin options) is compiled here, so
 * they share the options below and the messages: each problem names its JSON path and what is
 * allowed there (the enum values, the type, the bound, the known keys), and every problem is
 * listed at once, so a config is fixed in one edit instead of one error per run.
 *
 * - `allErrors`: list every problem, not the first.
 * - `useDefaults`: defaults live in the schemas and are filled into the validated value.
 * - `verbose`: errors carry the offending value and the parent schema ("got ...", "allowed keys").
 * - `discriminator`: the experiment's dataset kinds (one message for a wrong `kind`).
 * - strict schema (ajv's default): a typo in a schema keyword fails at compile time, naming the
 *   schema's owner, instead of being a silently ignored rule; `logger: false` because library
 *   code never prints (ajv's other strict checks only log).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { FprlError } from './errors.js';

const ajv = new Ajv({
  allErrors: true,
  useDefaults: true,
  verbose: true,
  discriminator: true,
  logger: false,
});
const compiled = new WeakMap<object, ValidateFunction>();

/** The validator of `schema`, compiled once per schema object. Throws ajv's error for a bad schema. */
export function validatorFor(schema: object): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

/** One problem in a config. */
export interface ConfigIssue {
  /** A JSON pointer ('' for the document root), or a dotted path under a named prefix. */
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
 * One ajv error as a JSON path and a message. `prefix` is prepended to the path: a JSON pointer
 * (`/agents/2`, the experiments' style) or a dotted name (`agents[1]`, then the path is dotted).
 */
export function describeAjvError(e: ErrorObject, prefix = ''): ConfigIssue {
  const issue = describe(e);
  return { ...issue, path: joinPath(prefix, issue.path) };
}

function joinPath(prefix: string, pointer: string): string {
  return prefix === '' || prefix.startsWith('/') ? prefix + pointer : prefix + pointer.replace(/\//g, '.');
}

function describe(e: ErrorObject): ConfigIssue {
  const path = e.instancePath;
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

/** `path: message` lines, one per problem. */
export function formatAjvErrors(errors: readonly ErrorObject[] | null | undefined, prefix = ''): string[] {
  return describeAjvErrors(errors, prefix).map((i) => `${i.path || '/'}: ${i.message}`);
}

export type SchemaCheck<T> = (value: unknown, where: string, hint: string) => asserts value is T;

/** Compile `schema`; the returned function fills defaults in place or throws an FprlError listing every problem. */
export function compileSchema<T>(schema: object): SchemaCheck<T> {
  const validate = validatorFor(schema);
  return (value: unknown, where: string, hint: string): asserts value is T => {
    if (!validate(value)) {
      const lines = formatAjvErrors(validate.errors, where);
      throw new FprlError(`invalid configuration:\n  ${lines.join('\n  ')}`, { where, hint });
    }
  };
}

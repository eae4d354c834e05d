/** One ajv instance for the agent and training schemas: defaults filled in, every error listed. */
import { Ajv, type ErrorObject } from 'ajv';
import { FprlError } from './errors.js';

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });

/** `path: message` lines, one per ajv error, with the JSON path prefixed by `where`. */
export function formatAjvErrors(errors: ErrorObject[] | null | undefined, where: string): string[] {
  return (errors ?? []).map((e) => {
    // `where` may be a JSON pointer (`/agents/2`, the experiments' style) or a dotted path (`agent`).
    const p = where.startsWith('/')
      ? `${where}${e.instancePath}`
      : `${where}${e.instancePath.replace(/\//g, '.')}`;
    if (e.keyword === 'additionalProperties') {
      return `${p}: unknown key '${(e.params as { additionalProperty: string }).additionalProperty}'`;
    }
    if (e.keyword === 'enum') {
      return `${p}: ${e.message} (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})`;
    }
    return `${p}: ${e.message}`;
  });
}

export type SchemaCheck<T> = (value: unknown, where: string, hint: string) => asserts value is T;

/** Compile `schema`; the returned function fills defaults in place or throws an FprlError listing every problem. */
export function compileSchema<T>(schema: object): SchemaCheck<T> {
  const validate = ajv.compile(schema);
  return (value: unknown, where: string, hint: string): asserts value is T => {
    if (!validate(value)) {
      const lines = formatAjvErrors(validate.errors, where);
      throw new FprlError(`invalid configuration:\n  ${lines.join('\n  ')}`, { where, hint });
    }
  };
}

/**
 * `${NAME}` expansion in the paths of experiment configs, so one JSON file works on every machine
 * (`"root": "${LAPA_DIR}"`). `${NAME:-fallback}` gives a fallback when NAME is unset or
 * empty; `$${` writes a literal `${`. An unset variable without fallback is an error that
 * names the variable and the JSON path, never a silent empty string that would turn
 * `${DATA}/lapa` into `/lapa`.
 */
import { FprlError } from '../core/errors.js';

const PATTERN = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** One variable the config refers to that is not set. */
export interface MissingVariable {
  name: string;
  /** JSON pointer of the string that refers to it, e.g. `/dataset/root`. */
  path: string;
}

/** Expand `${NAME}` in one string; unset names are collected in `missing`. */
export function expandString(
  s: string,
  env: NodeJS.ProcessEnv,
  path: string,
  missing: MissingVariable[],
): string {
  return s.replace(PATTERN, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$${') return '${';
    const value = env[name!];
    if (value !== undefined && value !== '') return value;
    if (fallback !== undefined) return fallback;
    missing.push({ name: name!, path });
    return match;
  });
}

/** Escape a JSON-pointer token (RFC 6901). */
export function pointerToken(key: string | number): string {
  return String(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Does JSON pointer `path` match `pattern` (`*` matches one token)? */
export function pointerMatches(pattern: string, path: string): boolean {
  const a = pattern.split('/');
  const b = path.split('/');
  return a.length === b.length && a.every((t, i) => t === '*' || t === b[i]);
}

/**
 * Expand `${NAME}` in the string values of a parsed JSON document whose JSON pointer matches
 * one of `fields` (e.g. `/dataset/root`, `/rewardModules/*`; default: every string). Keys are
 * left alone. Returns a new document; throws one FprlError listing every unset variable with
 * its path.
 */
export function expandEnvVars<T>(
  doc: T,
  env: NodeJS.ProcessEnv = process.env,
  where?: string,
  fields?: readonly string[],
): T {
  const missing: MissingVariable[] = [];
  const walk = (v: unknown, path: string): unknown => {
    if (typeof v === 'string') {
      return !fields || fields.some((f) => pointerMatches(f, path)) ? expandString(v, env, path, missing) : v;
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}/${i}`));
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, `${path}/${pointerToken(k)}`);
      return out;
    }
    return v;
  };
  const out = walk(doc, '') as T;
  if (missing.length) {
    const names = [...new Set(missing.map((m) => m.name))];
    const lines = missing.map((m) => `  ${m.path || '/'}: environment variable ${m.name} is not set`);
    throw new FprlError(
      `the config refers to unset environment variable${names.length > 1 ? 's' : ''}:\n${lines.join('\n')}`,
      {
        where,
        hint: `set ${names.map((n) => `${n}=...`).join(' ')} (e.g. \`export ${names[0]}=/path/to/data\`), or write the path in the config`,
      },
    );
  }
  return out;
}

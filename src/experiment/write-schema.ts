/**
 * `npm run schema`: writes experiments/schema.json from the ajv schema in schema.ts, so
 * editors validate and complete experiment files (`"$schema": "./schema.json"`).
 * A test checks that the file is up to date.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { editorSchema } from './schema.js';

export const SCHEMA_FILE = fileURLToPath(new URL('../../experiments/schema.json', import.meta.url));

async function main(): Promise<void> {
  // prettier is a dev dependency: formatting is for the repository's `prettier --check`.
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(SCHEMA_FILE)) ?? {};
  const text = await prettier.format(JSON.stringify(editorSchema()), { ...options, parser: 'json' });
  writeFileSync(SCHEMA_FILE, text);
  process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();

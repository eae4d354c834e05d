#!/usr/bin/env node
/**
 * `npm run layers`: draws docs/layers.md (a Mermaid graph of which folder imports which) with
 * dependency-cruiser and the rules of .dependency-cruiser.cjs, the same tool `npm run lint` checks
 * the layers with. `--check` exits 1 when the committed drawing differs from the code's.
 */
import { cruise } from 'dependency-cruiser';
import { createRequire } from 'node:module';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const config = createRequire(import.meta.url)('../.dependency-cruiser.cjs');
const file = path.join(root, 'docs/layers.md');

/** One node per collapsed folder, one arrow per folder that imports another, top to bottom. */
function mermaid(result) {
  const name = (m) => m.replace(/\/$/, '');
  const id = (m) => name(m).replace(/[^A-Za-z0-9]/g, '_');
  const nodes = new Set();
  const edges = new Set();
  for (const m of result.modules) {
    nodes.add(m.source);
    for (const d of m.dependencies) if (d.resolved !== m.source) edges.add(`${m.source}|${d.resolved}`);
  }
  const lines = ['flowchart TD'];
  for (const n of [...nodes].sort()) lines.push(`  ${id(n)}["${name(n)}"]`);
  for (const e of [...edges].sort()) {
    const [a, b] = e.split('|');
    lines.push(`  ${id(a)} --> ${id(b)}`);
  }
  return lines.join('\n');
}

async function draw() {
  const r = await cruise(
    ['src', 'agents', 'envs', 'rewards'],
    {
      baseDir: root,
      tsPreCompilationDeps: true,
      exclude: config.options.exclude,
      includeOnly: '^(src|agents|envs|rewards)/',
      // One box per folder (agents/vit and agents/nets apart from the learners).
      collapse: '^(src/[^/]+/|agents/(vit|nets)/|agents/|envs/|rewards/|src/)',
      outputType: 'json',
    },
    undefined,
    undefined,
  );
  return [
    '# Layers: which folder imports which',
    '',
    'Drawn by `npm run layers` (dependency-cruiser, the rules of `.dependency-cruiser.cjs`) from the code;',
    'a test fails when this drawing is out of date. Every arrow points down the layers of',
    'docs/ARCHITECTURE.md ("Layers"); `src/cli.ts` and `src/index.ts` are left out (facades that',
    'import every floor).',
    '',
    '```mermaid',
    mermaid(JSON.parse(String(r.output))),
    '```',
    '',
  ].join('\n');
}

const text = await draw();
if (process.argv.includes('--check')) {
  const committed = await readFile(file, 'utf8').catch(() => '');
  if (committed !== text) {
    process.stderr.write('docs/layers.md is out of date: run `npm run layers`\n');
    process.exit(1);
  }
} else {
  await writeFile(file, text);
  process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}

/**
 * The layer rules of .dependency-cruiser.cjs (`npm run lint` runs them): the tree keeps them, and
 * an upward import, a folder cycle or an agent importing an env fails with the rule's name. The
 * failing cases are small trees written to a temporary folder, checked with the same rules.
 */
import { expect } from 'chai';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { cruise, type ICruiseResult, type IConfiguration } from 'dependency-cruiser';

const require = createRequire(import.meta.url);
const config = require('../../.dependency-cruiser.cjs') as IConfiguration;
const root = path.resolve(import.meta.dirname, '../..');

async function violations(dirs: string[], baseDir: string): Promise<string[]> {
  const r = await cruise(
    dirs,
    {
      ruleSet: { forbidden: config.forbidden },
      validate: true,
      baseDir,
      tsPreCompilationDeps: true,
      exclude: config.options?.exclude,
    },
    undefined,
    undefined,
  );
  const out = r.output as ICruiseResult;
  return out.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
}

/** A tree of small modules: path -> the relative imports it makes. */
async function tree(files: Record<string, string[]>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fprl-layers-'));
  for (const [file, imports] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    const lines = imports.map((imp, i) => `import * as m${i} from '${imp}';\nexport const u${i} = m${i};`);
    await writeFile(path.join(dir, file), `${lines.join('\n')}\nexport const here = 1;\n`);
  }
  return dir;
}

describe('the layers (.dependency-cruiser.cjs)', function () {
  this.timeout(60_000);

  it('hold for the whole source tree: no upward import, no folder or module cycle', async () => {
    expect(await violations(['src', 'agents', 'envs', 'rewards'], root)).to.deep.equal([]);
  });

  it('fail an upward import with the rule of the importing floor', async () => {
    const dir = await tree({
      'src/metrics/scores.ts': ['../train/trainer.js'],
      'src/train/trainer.ts': [],
    });
    try {
      expect(await violations(['src'], dir)).to.deep.equal([
        'layer-data-metrics-imports-up: src/metrics/scores.ts -> src/train/trainer.ts',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fail two folders that import each other, and an agent that imports an env', async () => {
    const dir = await tree({
      'src/data/a.ts': ['../metrics/b.js'],
      'src/metrics/b.ts': ['../data/c.js'],
      'src/data/c.ts': [],
      'agents/learner.ts': ['../envs/bandit.js'],
      'envs/bandit.ts': [],
    });
    try {
      const found = await violations(['src', 'agents', 'envs'], dir);
      expect(found).to.include('agents-and-envs-apart: agents/learner.ts -> envs/bandit.ts');
      expect(found.some((v) => v.startsWith('no-folder-cycles: '))).to.equal(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fail reward code that reaches a Node core module through another floor (rewards run in the browser page too)', async () => {
    const dir = await tree({
      'rewards/f1.ts': ['../src/metrics/count.js'],
      'src/metrics/count.ts': ['../native/load.js'],
      'src/native/load.ts': ['node:module'],
      'src/web/page.ts': ['../../rewards/f1.js'],
      'src/data/ok.ts': ['node:fs'],
    });
    try {
      const found = await violations(['src', 'rewards'], dir);
      expect(found.filter((v) => v.startsWith('browser-code-reaches-no-node')).sort()).to.deep.equal([
        'browser-code-reaches-no-node: rewards/f1.ts -> module',
        'browser-code-reaches-no-node: src/web/page.ts -> module',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('are drawn in docs/layers.md as the tool draws them now (npm run layers)', () => {
    // Exits 1 with a message when the drawing differs from the code's.
    execFileSync(process.execPath, [path.join(root, 'docs/layers.mjs'), '--check'], { stdio: 'pipe' });
  });
});

/**
 * esbuild for the page: the page itself (`npm run build` -> dist/web/) and, while serving, each
 * reward module of the run's experiment (`rewardModules`), bundled for the browser with the
 * rewards/ code it imports. `platform: 'browser'` makes a module that reaches a Node core module
 * fail here, with esbuild's message naming the import, instead of in the page.
 */
import { build } from 'esbuild';
import { existsSync, mkdirSync, copyFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FprlError } from '../core/errors.js';

/** The package root: the nearest folder above this file with package.json (src/ and dist/src/ alike). */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'src', 'web'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new FprlError('cannot find the package root (src/web/)', { where: fileURLToPath(import.meta.url) });
    dir = up;
  }
}

/** Where `npm run build` writes the page. */
export function defaultPageDir(): string {
  return path.join(packageRoot(), 'dist', 'web');
}

/** The files a built page folder must hold. */
export const PAGE_FILES = ['index.html', 'app.js', 'style.css'] as const;

/** Bundle the page into `out` (default dist/web): app.js, index.html, style.css and tfjs's wasm binaries. */
export async function buildPage(out = defaultPageDir()): Promise<void> {
  const root = packageRoot();
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [path.join(root, 'src', 'web', 'main.ts')],
    outfile: path.join(out, 'app.js'),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: false,
    logLevel: 'silent',
    legalComments: 'none',
  });
  for (const f of ['index.html', 'style.css']) copyFileSync(path.join(root, 'src', 'web', f), path.join(out, f));
  const wasmDir = path.join(
    path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')),
    'dist',
  );
  for (const f of readdirSync(wasmDir).filter((n) => n.endsWith('.wasm'))) {
    copyFileSync(path.join(wasmDir, f), path.join(out, f));
  }
}

/** A user's reward module bundled for the browser (ESM text); an FprlError naming the file when it cannot be. */
export async function bundleRewardModule(file: string): Promise<string> {
  try {
    const r = await build({
      entryPoints: [file],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    return r.outputFiles[0].text;
  } catch (e) {
    const errors = (e as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors;
    const first = errors?.[0];
    const msg = first
      ? `${first.text}${first.location ? ` (${first.location.file}:${first.location.line})` : ''}`
      : (e as Error).message.split('\n')[0];
    throw new FprlError(`cannot bundle the reward module for the browser: ${msg}`, {
      where: file,
      hint: 'a reward module runs in the browser page too: it may import rewards/ and plain packages, not Node modules (fs, path, ...)',
      cause: e,
    });
  }
}

// `node dist/src/serve/bundle.js` (the last step of `npm run build`) builds the page.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildPage().then(
    () => process.stdout.write(`page built in ${defaultPageDir()}\n`),
    (e: unknown) => {
      process.stderr.write(`${e instanceof FprlError ? e.describe() : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}

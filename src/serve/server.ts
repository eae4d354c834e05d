/**
 * The HTTP server of `fprl serve`: the page (a built folder, dist/web/) and the run folder, on
 * 127.0.0.1 by default. Routes (GET and HEAD only):
 *
 *   /, /app.js, /style.css, /*.wasm   files of the page folder (nothing else of it)
 *   /api/run                          the run as the page sees it (run-info.ts)
 *   /api/reward-module/<i>.js         the experiment's i-th reward module, bundled for the browser
 *   /run/<path>                       a file inside the run folder, and only inside it
 *   /api/data/<split>/<index>         a sample of the run's data folder at the model's size (dataset.ts)
 *   /data/<path>                      a file of the data folder's image/label pairs, no other
 *
 * A path is refused (404) when, decoded, it holds `..`, a backslash or a NUL, or when its real
 * path (symlinks followed) leaves the folder it belongs to: no path traversal.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { promises as fs, realpathSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { FprlError } from '../core/errors.js';
import { bundleRewardModule, PAGE_FILES } from './bundle.js';
import { readRunInfo, type RunInfo } from './run-info.js';

export interface ServeOptions {
  /** The run folder (or its checkpoints/); none serves the playground alone. */
  run?: string;
  /** The built page folder (dist/web). */
  pageDir: string;
  /** Port; 0 picks a free one. */
  port?: number;
  /** Interface; default 127.0.0.1 (localhost only). */
  host?: string;
}

export interface RunningServer {
  url: string;
  info: RunInfo;
  server: Server;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.bin': 'application/octet-stream',
};

/** Refuse to start without a built page: say how to build it. */
export async function checkPageDir(pageDir: string): Promise<void> {
  for (const f of PAGE_FILES) {
    try {
      await fs.access(path.join(pageDir, f));
    } catch {
      throw new FprlError(`the browser page is not built (no ${f})`, {
        where: pageDir,
        hint: 'run `npm run build` (it bundles the page into dist/web/)',
      });
    }
  }
}

/**
 * The file `rel` (URL path, still encoded) inside `root`, or undefined when it would leave it:
 * `..`, backslashes and NULs are refused before any file system call, symlinks after realpath.
 */
export function resolveInside(root: string, rel: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rel);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const parts = decoded.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) return undefined;
  const file = path.join(root, ...parts);
  let real: string;
  let realRoot: string;
  try {
    real = realpathSync(file);
    realRoot = realpathSync(root);
  } catch {
    return undefined;
  }
  return real === realRoot || real.startsWith(realRoot + path.sep) ? real : undefined;
}

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  await checkPageDir(opts.pageDir);
  const { info, root, modules, data } = await readRunInfo(opts.run);
  const bundles = new Map<number, Promise<string>>();
  const host = opts.host ?? '127.0.0.1';

  const send = (res: ServerResponse, status: number, body: string | Uint8Array, type: string) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(body);
  };
  const notFound = (res: ServerResponse) => send(res, 404, 'not found\n', 'text/plain; charset=utf-8');
  const sendFile = async (res: ServerResponse, file: string | undefined) => {
    if (!file) return notFound(res);
    let data: Buffer;
    try {
      const stat = await fs.stat(file);
      if (!stat.isFile()) return notFound(res);
      data = await fs.readFile(file);
    } catch {
      return notFound(res);
    }
    send(res, 200, data, TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream');
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'GET only\n', 'text/plain');
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/' || url === '/index.html') return sendFile(res, path.join(opts.pageDir, 'index.html'));
    if (url === '/api/run') return send(res, 200, JSON.stringify(info), TYPES['.json']);
    const mod = /^\/api\/reward-module\/(\d+)\.js$/.exec(url);
    if (mod) {
      const i = Number(mod[1]);
      if (i >= modules.length) return notFound(res);
      if (!bundles.has(i)) bundles.set(i, bundleRewardModule(modules[i]));
      try {
        return send(res, 200, await bundles.get(i)!, TYPES['.js']);
      } catch (e) {
        // The page shows this text, naming the file; the other modules still load.
        return send(res, 422, e instanceof FprlError ? e.describe() : String(e), 'text/plain; charset=utf-8');
      }
    }
    if (url.startsWith('/run/')) return sendFile(res, root ? resolveInside(root, url.slice('/run/'.length)) : undefined);
    const sample = /^\/api\/data\/([a-z]+)\/(\d{1,9})$/.exec(url);
    if (sample) {
      if (!data) return notFound(res);
      try {
        return send(res, 200, JSON.stringify(await data.sample(sample[1], Number(sample[2]))), TYPES['.json']);
      } catch (e) {
        // The page shows this text (naming the file or the split); the playground keeps its face.
        return send(res, 422, e instanceof FprlError ? e.describe() : String(e), 'text/plain; charset=utf-8');
      }
    }
    if (url.startsWith('/data/')) return sendFile(res, data?.file(url.slice('/data/'.length)));
    const page = /^\/([\w.-]+)$/.exec(url);
    if (page && (PAGE_FILES as readonly string[]).includes(page[1])) return sendFile(res, path.join(opts.pageDir, page[1]));
    if (page && page[1].endsWith('.wasm')) return sendFile(res, resolveInside(opts.pageDir, page[1]));
    return notFound(res);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => send(res, 500, String(e), 'text/plain'));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new FprlError(`cannot listen on ${host}:${opts.port ?? 0}: ${e.message}`, {
          where: 'fprl serve --port',
          hint: e.code === 'EADDRINUSE' ? 'the port is taken: choose another with --port, or 0 for a free one' : undefined,
          cause: e,
        }),
      ),
    );
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    info,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * `fprl serve [RUN_DIR] [--port N] [--host H]`: the browser page (parser view and reward
 * playground, src/web/) with a run's checkpoint, on 127.0.0.1 unless told otherwise.
 */
import type { Command } from 'commander';
import { FprlError } from '../core/errors.js';
import { parsePositiveInt } from './run.js';
import { defaultPageDir } from '../serve/bundle.js';
import { startServer, type RunningServer } from '../serve/server.js';

export interface ServeCommandOptions {
  run?: string;
  port?: number;
  host?: string;
  /** The built page (default dist/web). */
  pageDir?: string;
}

export function serve(opts: ServeCommandOptions): Promise<RunningServer> {
  return startServer({ run: opts.run, port: opts.port, host: opts.host, pageDir: opts.pageDir ?? defaultPageDir() });
}

function parsePort(text: string): number {
  const n = parsePositiveInt('--port', 0)(text);
  if (n > 65535) throw new FprlError(`'${text}' is not a port (0..65535)`, { where: '--port', hint: 'e.g. --port 8080, or 0 for a free one' });
  return n;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description("the browser page: parse photos with a run's checkpoint, try reward plugins on painted labels")
    .argument('[run]', 'run folder (runs/<experiment>-<time>/<agent>/seed-<n>) or its checkpoints/')
    .option('--port <n>', 'port (0: a free one)', parsePort, 8080)
    .option('--host <address>', 'interface to listen on (default 127.0.0.1: this machine only)', '127.0.0.1')
    .action(async (run: string | undefined, flags: { port: number; host: string }) => {
      const s = await serve({ run, ...flags });
      if (s.info.error) process.stderr.write(`note: ${s.info.error}\n(the page says so; the reward playground works without a run)\n`);
      process.stdout.write(`fprl serve: ${s.url} (Ctrl-C stops)\n`);
      await new Promise<void>((resolve) => process.once('SIGINT', resolve));
      await s.close();
    });
}

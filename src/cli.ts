#!/usr/bin/env node
/**
 * The `fprl` command. Each subcommand lives in src/commands/<name>.ts and exports
 * `register(program)`; src/commands/index.ts lists them. Errors are printed as one clear
 * message (no stack unless --verbose) and exit non-zero.
 */
import { Command, CommanderError } from 'commander';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isFprlError } from './core/errors.js';
import { COMMANDS } from './commands/index.js';

export function buildProgram(): Command {
  const program = new Command('fprl')
    .description('face-parsing-rl: face parsing as a per-pixel contextual bandit')
    .option('--verbose', 'print stack traces on errors')
    .showHelpAfterError();
  for (const register of COMMANDS) register(program);
  return program;
}

/** Format any error the way the CLI prints it. */
export function formatError(e: unknown, verbose: boolean): string {
  if (isFprlError(e)) return `error: ${e.describe()}${verbose && e.stack ? `\n${e.stack}` : ''}`;
  const err = e as Error;
  return verbose && err?.stack ? `error: ${err.stack}` : `error: ${err?.message ?? String(e)}`;
}

/** Commander exits the process on a usage error unless told otherwise, command by command. */
function throwInsteadOfExit(command: Command): Command {
  command.exitOverride();
  for (const sub of command.commands) throwInsteadOfExit(sub);
  return command;
}

export async function main(argv: string[]): Promise<number> {
  // Subcommands too: `fprl diagnose` without --agent must return 1, not end the caller's process.
  const program = throwInsteadOfExit(buildProgram());
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    const verbose = argv.includes('--verbose');
    process.stderr.write(`${formatError(e, verbose)}\n`);
    return 1;
  }
}

function invokedDirectly(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}

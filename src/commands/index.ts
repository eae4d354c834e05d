import type { Command } from 'commander';

/** Every `fprl` subcommand, each `register(program)` from its own file. */
export const COMMANDS: ((program: Command) => void)[] = [];

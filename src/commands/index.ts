import type { Command } from 'commander';
import { register as bench } from './bench.js';
import { register as data } from './data.js';
import { register as diagnose } from './diagnose.js';
import { register as rewards } from './rewards.js';
import { register as run } from './run.js';
import { register as evalRun } from './eval.js';
import { register as predict } from './predict.js';
import { register as score } from './score.js';
import { register as importWeights } from './import.js';
import { register as exportWeights } from './export.js';
import { register as serve } from './serve.js';
import { register as worker } from './worker.js';
import { register as queue } from './queue.js';

/** Every `fprl` subcommand, each `register(program)` from its own file. */
export const COMMANDS: ((program: Command) => void)[] = [score, rewards, run, evalRun, predict, data, diagnose, bench, importWeights, exportWeights, serve, worker, queue];

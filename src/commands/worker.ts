/**
 * `fprl worker --queue URL`: train the runs of sweeps submitted with `fprl run --queue URL`,
 * on this machine, until stopped (SIGTERM or Ctrl-C: the running runs stop at their next
 * checkpoint and their jobs go back to the queue). See src/queue/worker.ts and docs/QUEUE.md.
 */
import type { Command } from 'commander';
import os from 'node:os';
import { defaultThreads } from '../parallel/index.js';
import { packageInfo } from '../experiment/environment.js';
import { parseQueueUrl, probeQueue } from '../queue/connection.js';
import { serveQueue } from '../queue/worker.js';
import { FprlError } from '../core/errors.js';
import { parsePositiveInt } from './run.js';

export interface WorkerFlags {
  queue?: string;
  slots?: number;
  threads?: number;
  backend?: string;
  stallAfter?: number;
}

/** The command's logic (in-process callable); resolves once the worker has stopped. */
export async function workerCommand(
  flags: WorkerFlags,
  print: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'],
): Promise<void> {
  if (!flags.queue) {
    throw new FprlError('no queue to take runs from', {
      where: 'fprl worker',
      hint: 'give the queue of the sweeps: fprl worker --queue redis://HOST:6379',
    });
  }
  const address = parseQueueUrl(flags.queue);
  const facts = await probeQueue(address, { warn: (l) => print(`warning: ${l}`) });
  const slots = flags.slots ?? 1;
  const cores = os.availableParallelism();
  const threads = {
    ...(flags.threads !== undefined ? { forced: flags.threads } : {}),
    fallback: defaultThreads(slots, cores),
  };
  const worker = serveQueue({
    address,
    slots,
    threads,
    backend: flags.backend,
    stallSeconds: flags.stallAfter,
    print,
  });
  print(
    `fprl ${packageInfo().version} worker ${os.hostname()}:${process.pid}: ${slots} slot(s), ` +
      `queue ${address.label} (Redis ${facts.version}); stop with SIGTERM or Ctrl-C`,
  );
  let signalled = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signalled++;
    if (signalled > 1) {
      print(`${signal} again: exiting now (the running runs resume from their last checkpoint)`);
      process.exit(130);
    }
    print(`${signal}: taking no more runs; the running ones stop at their next checkpoint`);
    void worker.stop();
  };
  for (const s of signals) process.on(s, onSignal);
  try {
    await worker.stopped;
    print('stopped');
  } finally {
    for (const s of signals) process.off(s, onSignal);
  }
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('train runs of sweeps submitted with fprl run --queue, until SIGTERM (docs/QUEUE.md)')
    .option('--queue <url>', 'the queue: redis://HOST:PORT[/DB]')
    .option(
      '--slots <n>',
      'runs trained at once, each in its own process (default 1)',
      parsePositiveInt('--slots'),
    )
    .option(
      '--threads <n>',
      'data-parallel threads per run (default: cores / slots)',
      parsePositiveInt('--threads'),
    )
    .option('--backend <name>', 'compute backend of the runs: auto, tensorflow-gpu, tensorflow, wasm, cpu')
    .option(
      '--stall-after <seconds>',
      'a worker silent this long is presumed dead and its run is retried elsewhere (default 30)',
      parsePositiveInt('--stall-after'),
    )
    .action(async (flags: WorkerFlags) => {
      await workerCommand(flags);
    });
}

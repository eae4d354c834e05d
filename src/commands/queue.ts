/**
 * `fprl queue status URL` and `fprl queue clean URL`: the queue's jobs per sweep (waiting,
 * running, done, failed with reasons), and removing finished jobs. See src/queue/status.ts.
 */
import type { Command } from 'commander';
import { parseQueueUrl, probeQueue } from '../queue/connection.js';
import { cleanQueue, formatQueueStatus, queueStatus, type SweepJobs } from '../queue/status.js';

const say = (l: string) => process.stdout.write(`${l}\n`);

export async function queueStatusCommand(
  url: string,
  print: (line: string) => void = say,
): Promise<SweepJobs[]> {
  const address = parseQueueUrl(url, 'fprl queue status');
  await probeQueue(address, { flag: 'fprl queue status', warn: (l) => print(`warning: ${l}`) });
  const sweeps = await queueStatus(address);
  print(formatQueueStatus(address.label, sweeps));
  return sweeps;
}

export async function queueCleanCommand(
  url: string,
  flags: { sweep?: string },
  print: (line: string) => void = say,
): Promise<number> {
  const address = parseQueueUrl(url, 'fprl queue clean');
  await probeQueue(address, { flag: 'fprl queue clean' });
  const removed = await cleanQueue(address, { sweep: flags.sweep });
  print(
    `removed ${removed} finished job(s)${flags.sweep ? ` of sweep ${flags.sweep}` : ''} from ${address.label}`,
  );
  return removed;
}

export function register(program: Command): void {
  const queue = program.command('queue').description('the work queue of fprl run --queue (docs/QUEUE.md)');
  queue
    .command('status')
    .description('jobs per sweep: waiting, running, done, failed (with the reasons)')
    .argument('<url>', 'the queue: redis://HOST:PORT[/DB]')
    .action(async (url: string) => {
      await queueStatusCommand(url);
    });
  queue
    .command('clean')
    .description('remove finished jobs (done and failed); queued and running jobs stay')
    .argument('<url>', 'the queue: redis://HOST:PORT[/DB]')
    .option('--sweep <id>', 'only the jobs of this sweep (ids as fprl queue status shows them)')
    .action(async (url: string, flags: { sweep?: string }) => {
      await queueCleanCommand(url, flags);
    });
}

/**
 * One sweep per output folder: `<out>/.lock` holds the owner's pid and host. A second sweep
 * on the same folder is refused with a message naming the owner; a lock left by a process
 * that no longer exists (killed, rebooted) is taken over, so a crash never needs manual cleanup.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FprlError } from '../core/errors.js';

export const LOCK_FILE = '.lock';

interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
  command: string;
}

/** A held lock; `release()` is idempotent and also runs when the process exits. */
export interface SweepLock {
  readonly file: string;
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): LockInfo | undefined {
  try {
    const info = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
    return typeof info.pid === 'number' ? info : undefined;
  } catch {
    return undefined; // vanished, or torn by a crash between create and write: treat as stale
  }
}

/**
 * Take the lock of sweep folder `dir` (created if needed). Throws a clear FprlError when
 * another live process holds it.
 */
export function acquireSweepLock(dir: string, command = process.argv.slice(1).join(' ')): SweepLock {
  const file = path.join(dir, LOCK_FILE);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw unwritable(dir, e);
  }
  const mine: LockInfo = {
    pid: process.pid,
    host: os.hostname(),
    startedAt: new Date().toISOString(),
    command,
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      try {
        fs.writeFileSync(fd, `${JSON.stringify(mine)}\n`);
      } finally {
        fs.closeSync(fd);
      }
      return holdLock(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw unwritable(dir, e);
    }
    const owner = readLock(file);
    const stale =
      owner === undefined || (owner.host === mine.host && owner.pid !== process.pid && !alive(owner.pid));
    if (!stale) {
      const who = `pid ${owner.pid} on ${owner.host}, started ${owner.startedAt}`;
      throw new FprlError(`another sweep is writing to this folder (${who})`, {
        where: dir,
        hint:
          `wait for it to finish or choose another --out; if no such sweep is running ` +
          `(e.g. it ran on another machine), delete ${file}`,
      });
    }
    // Move the stale lock aside atomically: of two sweeps taking it over, only one rename wins.
    try {
      fs.renameSync(file, `${file}.stale-${process.pid}`);
      fs.rmSync(`${file}.stale-${process.pid}`, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  throw new FprlError('could not take the sweep lock (it keeps changing hands)', {
    where: file,
    hint: 'another process is starting sweeps on this folder; choose another --out',
  });
}

function unwritable(dir: string, e: unknown): FprlError {
  const err = e as NodeJS.ErrnoException;
  return new FprlError(`cannot write to the output folder: ${err.message}`, {
    where: dir,
    hint:
      err.code === 'ENOSPC'
        ? 'the disk is full: free some space, then run again (finished runs are kept)'
        : 'choose a writable --out folder (check its permissions)',
    cause: e,
  });
}

function holdLock(file: string): SweepLock {
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    if (readLock(file)?.pid === process.pid) fs.rmSync(file, { force: true });
  };
  process.on('exit', release);
  return { file, release };
}

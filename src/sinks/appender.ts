import {
  closeSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  statSync,
  type WriteStream,
} from 'node:fs';
import { dirname } from 'node:path';
import { FprlError } from '../core/errors.js';

/**
 * An append-only file that sinks write to from synchronous bus callbacks. Writes are queued
 * in order on a stream; the first error (full disk, permissions) is kept and thrown by
 * {@link FileAppender.close}, naming the file, so no failure is silent.
 */
export class FileAppender {
  private readonly stream: WriteStream;
  private error: Error | undefined;
  private closed: Promise<void> | undefined;

  /**
   * @param path file to append to; its folder is created.
   * @param opts.exclusive create a new file and fail if it exists (`wx`), instead of appending.
   */
  constructor(
    readonly path: string,
    opts: { exclusive?: boolean } = {},
  ) {
    let fd: number;
    let needsNewline = false;
    try {
      mkdirSync(dirname(path), { recursive: true });
      needsNewline = !opts.exclusive && endsMidLine(path);
      fd = openSync(path, opts.exclusive ? 'wx' : 'a');
    } catch (e) {
      throw writeError(path, e);
    }
    this.stream = createWriteStream(path, { fd, flags: 'a' });
    this.stream.on('error', (e) => {
      this.error ??= e;
    });
    // A run killed mid-write leaves a partial last line: start on a fresh one so the next
    // record is not glued to it.
    if (needsNewline) this.write('\n');
  }

  /** The first write error so far, if any. */
  get failure(): Error | undefined {
    return this.error;
  }

  write(chunk: string | Uint8Array): void {
    if (this.closed || this.error) return;
    this.stream.write(chunk);
  }

  /** Flush and close; rejects with an {@link FprlError} if any write failed. Idempotent. */
  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      if (this.stream.closed || this.stream.destroyed) return resolve();
      // 'close' follows both a clean finish and an error (the stream auto-destroys).
      this.stream.once('close', () => resolve());
      this.stream.end();
    }).then(() => {
      if (this.error) throw writeError(this.path, this.error);
    });
    return this.closed;
  }
}

/** True when `path` exists, is not empty and its last byte is not a newline. */
function endsMidLine(path: string): boolean {
  if (!existsSync(path)) return false;
  const size = statSync(path).size;
  if (size === 0) return false;
  const last = Buffer.alloc(1);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, last, 0, 1, size - 1);
  } finally {
    closeSync(fd);
  }
  return last[0] !== 0x0a;
}

function writeError(path: string, e: unknown): FprlError {
  const err = e as NodeJS.ErrnoException;
  return new FprlError(`could not write: ${err?.message ?? String(e)}`, {
    where: path,
    hint:
      err?.code === 'ENOSPC'
        ? 'the disk is full: free some space, then resume the run'
        : 'check that the output folder exists, is writable and has free space',
    cause: e,
  });
}

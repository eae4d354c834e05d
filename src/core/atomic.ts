/**
 * Atomic file writes, the one implementation in the project: write a temporary sibling, fsync it,
 * rename it over the target, fsync the folder. A reader (or a resumed sweep) sees either the old
 * file or the whole new one, never half, even when the process is killed mid-write; after a
 * power cut the rename itself is on disk too (the folder's fsync). A failed write (full disk,
 * unwritable folder) leaves the old file as it was.
 */
import fsSync from 'node:fs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FprlError } from './errors.js';

let counter = 0;

/** A unique temporary sibling of `file` (same folder, so the rename stays on one file system). */
function tempFor(file: string): string {
  return `${file}.tmp-${process.pid}-${counter++}`;
}

/**
 * A file written in pieces (a stream of records), then put in place atomically by
 * {@link AtomicFile.commit}, or removed by {@link AtomicFile.abort}. Errors are the file
 * system's own; {@link writeFileAtomic} turns them into an FprlError.
 */
export class AtomicFile {
  private constructor(
    readonly file: string,
    private readonly tmp: string,
    private handle: fs.FileHandle | undefined,
  ) {}

  static async open(file: string): Promise<AtomicFile> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    const tmp = tempFor(file);
    return new AtomicFile(file, tmp, await fs.open(tmp, 'w'));
  }

  /** Write `bytes` at `position`, or after what was written so far when it is omitted. */
  async write(bytes: string | Uint8Array, position?: number): Promise<void> {
    const h = this.open();
    if (position === undefined) await h.writeFile(bytes);
    else if (typeof bytes === 'string') await h.write(bytes, position);
    else await h.write(bytes, 0, bytes.length, position);
  }

  /** Flush to disk and rename over the target; the file is in place when this resolves. */
  async commit(): Promise<void> {
    const h = this.open();
    await h.sync();
    await h.close();
    this.handle = undefined;
    await fs.rename(this.tmp, this.file);
    await syncFolder(path.dirname(this.file));
  }

  /** Remove the temporary file (after an error); the target is untouched. Never throws. */
  async abort(): Promise<void> {
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
    await fs.rm(this.tmp, { force: true }).catch(() => undefined);
  }

  private open(): fs.FileHandle {
    if (!this.handle) throw new Error(`${this.file}: written after commit or abort`);
    return this.handle;
  }
}

export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  let out: AtomicFile | undefined;
  try {
    out = await AtomicFile.open(file);
    await out.write(data);
    await out.commit();
  } catch (e) {
    await out?.abort();
    throw writeError(file, e);
  }
}

/** JSON, pretty-printed with a final newline. */
export function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  return writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** {@link writeFileAtomic} for the few places that cannot wait (module initialisation). */
export function writeFileAtomicSync(file: string, data: string | Uint8Array): void {
  const tmp = tempFor(file);
  try {
    fsSync.mkdirSync(path.dirname(file), { recursive: true });
    const fd = fsSync.openSync(tmp, 'w');
    try {
      fsSync.writeFileSync(fd, data);
      fsSync.fsyncSync(fd);
    } finally {
      fsSync.closeSync(fd);
    }
    fsSync.renameSync(tmp, file);
    syncFolderSync(path.dirname(file));
  } catch (e) {
    try {
      fsSync.rmSync(tmp, { force: true });
    } catch {
      /* nothing was created (e.g. the folder is a file) */
    }
    throw writeError(file, e);
  }
}

// Where a folder cannot be opened or fsynced (Windows, some network file systems) the rename is
// still atomic for readers; only its durability across a power cut is left to the system.
/** fsync a folder, so that the entries renamed into it survive a power cut (best effort: some file systems refuse). */
export async function syncFolder(dir: string): Promise<void> {
  let h: fs.FileHandle | undefined;
  try {
    h = await fs.open(dir, 'r');
    await h.sync();
  } catch {
    /* see above */
  } finally {
    await h?.close().catch(() => undefined);
  }
}

function syncFolderSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fsSync.openSync(dir, 'r');
    fsSync.fsyncSync(fd);
  } catch {
    /* see syncFolder */
  } finally {
    if (fd !== undefined) fsSync.closeSync(fd);
  }
}

function writeError(file: string, e: unknown): FprlError {
  const err = e as NodeJS.ErrnoException;
  return new FprlError(`cannot write: ${err?.message ?? String(e)}`, {
    where: file,
    hint:
      err?.code === 'ENOSPC'
        ? 'the disk is full: free some space, then run again (the previous file is unchanged; finished runs are kept)'
        : 'check that the output folder is writable (the previous file is unchanged)',
    cause: e,
  });
}

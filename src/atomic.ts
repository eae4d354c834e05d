/**
 * Atomic file writes: write a temporary sibling, flush it to disk, rename over the target.
 * A reader (or a resumed sweep) sees either the old file or the whole new one, never half,
 * even when the process is killed mid-write. A failed write (full disk, unwritable folder)
 * leaves the old file as it was and is an FprlError naming the file.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FprlError } from './errors.js';

let counter = 0;

export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${counter++}`;
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    const handle = await fs.open(tmp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw writeError(file, e);
  }
}

/** JSON, pretty-printed with a final newline. */
export function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  return writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
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

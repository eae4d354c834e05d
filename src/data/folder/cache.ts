/**
 * On-disk cache of decoded, resized samples: one file per (dataset root, split, size).
 *
 * Layout: `count` fixed-size records (RGB `[H,W,3]` bytes then label `[H,W]` bytes), a JSON
 * trailer (key, size, ids, problems) and a 16-byte footer (magic, JSON length). Fixed-size
 * records let a reader fetch sample i with one positional read. The key hashes every source
 * file's path, size and mtime plus the target size and reader options, so any change
 * rebuilds the cache. Files are written atomically (src/core/atomic.ts).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { AtomicFile } from '../../core/atomic.js';
import type { Problem } from './problems.js';

const MAGIC = 'FPRLC001';
const FOOTER = 16;
export const CACHE_VERSION = 1;

export interface CacheMeta {
  version: number;
  key: string;
  height: number;
  width: number;
  ids: string[];
  /** Problems found when the cache was built (skipped samples), replayed on every open. */
  problems: Problem[];
}

export function recordBytes(height: number, width: number): number {
  return height * width * 4;
}

/** Hash of everything a cached set depends on. */
export async function cacheKey(files: string[], extra: unknown): Promise<string> {
  const h = createHash('sha256');
  h.update(JSON.stringify({ v: CACHE_VERSION, extra }));
  const stats = await Promise.all(files.map((f) => fs.stat(f).catch(() => undefined)));
  files.forEach((f, i) => {
    const s = stats[i];
    h.update(`\n${f}\t${s ? s.size : -1}\t${s ? s.mtimeMs : -1}`);
  });
  return h.digest('hex');
}

export function cacheFileName(dir: string, kind: string, root: string, split: string, size: string): string {
  const rootHash = createHash('sha256').update(path.resolve(root)).digest('hex').slice(0, 12);
  return path.join(dir, `${kind}-${rootHash}-${split}-${size}.fprlcache`);
}

/** The cache's metadata when `file` exists, is intact and has `key`; otherwise undefined. */
export async function readCacheMeta(file: string, key: string): Promise<CacheMeta | undefined> {
  let fh;
  try {
    fh = await fs.open(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const { size } = await fh.stat();
    if (size < FOOTER) return undefined;
    const foot = Buffer.alloc(FOOTER);
    await fh.read(foot, 0, FOOTER, size - FOOTER);
    if (foot.toString('latin1', 0, 8) !== MAGIC) return undefined;
    const jsonLen = foot.readUInt32LE(8);
    if (jsonLen > size - FOOTER) return undefined;
    const json = Buffer.alloc(jsonLen);
    await fh.read(json, 0, jsonLen, size - FOOTER - jsonLen);
    const meta = JSON.parse(json.toString('utf8')) as CacheMeta;
    if (meta.version !== CACHE_VERSION || meta.key !== key) return undefined;
    if (meta.ids.length * recordBytes(meta.height, meta.width) + jsonLen + FOOTER !== size) return undefined;
    return meta;
  } catch {
    return undefined;
  } finally {
    await fh.close();
  }
}

/** Streams records to a temporary file; `commit` adds the trailer and puts it in place atomically. */
export class CacheWriter {
  private out?: AtomicFile;
  private offset = 0;

  constructor(readonly file: string) {}

  async open(): Promise<void> {
    this.out = await AtomicFile.open(this.file);
  }

  async append(rgb: Uint8Array, label: Uint8Array): Promise<void> {
    await this.out!.write(rgb, this.offset);
    this.offset += rgb.length;
    await this.out!.write(label, this.offset);
    this.offset += label.length;
  }

  async commit(meta: CacheMeta): Promise<void> {
    const json = Buffer.from(JSON.stringify(meta), 'utf8');
    const foot = Buffer.alloc(FOOTER);
    foot.write(MAGIC, 0, 'latin1');
    foot.writeUInt32LE(json.length, 8);
    await this.out!.write(json, this.offset);
    await this.out!.write(foot, this.offset + json.length);
    await this.out!.commit();
    this.out = undefined;
  }

  /** Remove the temporary file (after an error). */
  async abort(): Promise<void> {
    await this.out?.abort();
    this.out = undefined;
  }
}

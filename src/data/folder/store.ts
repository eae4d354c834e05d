/**
 * Where a folder dataset's decoded samples live: in memory, in a cache file (positional
 * reads), or nowhere (decoded again from the source files on every access, for sets larger
 * than the memory budget without a cache).
 */
import { promises as fs } from 'node:fs';
import { FprlError } from '../../core/errors.js';
import { recordBytes } from './cache.js';
import { decodeItem } from './decode.js';
import type { FolderItem } from './scan.js';

export interface StoredSample {
  /** [H,W,3] */
  rgb: Uint8Array;
  /** [H,W] */
  label: Uint8Array;
}

export interface SampleStore {
  read(index: number): Promise<StoredSample>;
}

/** Samples held in memory (views into one buffer or separate arrays). */
export class MemoryStore implements SampleStore {
  constructor(private readonly samples: StoredSample[]) {}

  async read(index: number): Promise<StoredSample> {
    return this.samples[index];
  }

  /** Slice a cache file's records region into per-sample views (no copies). */
  static fromRecords(buf: Uint8Array, count: number, height: number, width: number): MemoryStore {
    const rec = recordBytes(height, width);
    const px = height * width;
    const samples: StoredSample[] = [];
    for (let i = 0; i < count; i++) {
      const o = i * rec;
      samples.push({ rgb: buf.subarray(o, o + px * 3), label: buf.subarray(o + px * 3, o + rec) });
    }
    return new MemoryStore(samples);
  }
}

/** Records read from a cache file on demand (open, read, close: no descriptor is held). */
export class CacheFileStore implements SampleStore {
  private readonly rec: number;

  constructor(
    private readonly file: string,
    private readonly height: number,
    private readonly width: number,
  ) {
    this.rec = recordBytes(height, width);
  }

  async read(index: number): Promise<StoredSample> {
    const buf = new Uint8Array(this.rec);
    const fh = await fs.open(this.file, 'r').catch((e) => {
      throw new FprlError('the data cache file disappeared while in use', {
        where: this.file,
        hint: 'do not delete cache files of a running job; open the dataset again to rebuild it',
        cause: e,
      });
    });
    try {
      await fh.read(buf, 0, this.rec, index * this.rec);
    } finally {
      await fh.close();
    }
    const px = this.height * this.width;
    return { rgb: buf.subarray(0, px * 3), label: buf.subarray(px * 3) };
  }
}

/** Decode from the source files on every access (already checked at open). */
export class DecodeStore implements SampleStore {
  constructor(
    private readonly items: FolderItem[],
    private readonly size: { height: number; width: number },
  ) {}

  async read(index: number): Promise<StoredSample> {
    const s = await decodeItem(this.items[index], this.size);
    return { rgb: s.rgb, label: s.label };
  }
}

/**
 * The served run's data folder (a `lapa` or `celebamask` dataset section), for the page's reward
 * playground: its splits are scanned once when the server starts, with the scanners training
 * uses, and only the files of those image/label pairs are ever read. Routes (server.ts):
 *
 *   /api/data/<split>/<index>   the index-th pair of the split (sorted by id, as training sorts),
 *                               decoded and resized to the dataset's size by the function training
 *                               opens folders with (`decodeItem`: image Lanczos, label nearest), as
 *                               JSON with base64 RGB bytes and label ids; a bad file: 422 naming it
 *   /data/<path>                a file of those pairs, by its path under the dataset root
 *
 * No URL path is joined onto the file system: a request is looked up among the scanned files, and
 * a file whose real path (symlinks followed) leaves the dataset root is refused (404 / 422).
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { FprlError } from '../core/errors.js';
import { scanCelebAMask, scanLapa, SPLITS, type Split } from '../data/index.js';
import { decodeItem } from '../data/folder/decode.js';
import type { FolderItem } from '../data/folder/scan.js';
import type { FolderDatasetConfig } from '../experiment/schema.js';
import type { DatasetInfo, DatasetSample } from './api.js';

export type { DatasetInfo, DatasetSample } from './api.js';



export class DatasetFiles {
  private constructor(
    readonly info: DatasetInfo,
    private readonly realRoot: string,
    private readonly items: Map<Split, FolderItem[]>,
    /** URL path under /data/ -> file, for every file of the scanned pairs. */
    private readonly files: Map<string, string>,
  ) {}

  /** Scan the splits of a folder dataset; a split that cannot be scanned is left out, never an error here. */
  static async open(ds: FolderDatasetConfig): Promise<DatasetFiles> {
    const root = path.resolve(ds.root);
    const items = new Map<Split, FolderItem[]>();
    const files = new Map<string, string>();
    const info: DatasetInfo = { kind: ds.kind, root, size: ds.size, splits: [] };
    const reasons: string[] = [];
    for (const split of SPLITS) {
      try {
        const scan = ds.kind === 'lapa' ? await scanLapa(root, split) : await scanCelebAMask(root, split);
        if (!scan.items.length) continue;
        items.set(split, scan.items);
        info.splits.push({ split, count: scan.items.length });
        for (const it of scan.items) {
          const label = it.label.kind === 'celeb-parts' ? it.label.parts.map((p) => p.path) : [it.label.path];
          for (const f of [it.image, ...label]) files.set(relativeOf(root, f), f);
        }
      } catch (e) {
        reasons.push(e instanceof FprlError ? e.describe() : String(e));
      }
    }
    let realRoot = root;
    try {
      realRoot = realpathSync(root);
    } catch {
      // The scan said why (folder not found).
    }
    if (!info.splits.length) info.error = `no image/label pairs in the data folder ${root}${reasons.length ? `: ${reasons[0]}` : ''}`;
    return new DatasetFiles(info, realRoot, items, files);
  }

  /** The file served at /data/<urlPath> (still encoded), or undefined: only files of the scanned pairs, inside the root. */
  file(urlPath: string): string | undefined {
    let rel: string;
    try {
      rel = decodeURIComponent(urlPath);
    } catch {
      return undefined;
    }
    const file = this.files.get(rel);
    return file && this.inside(file) ? file : undefined;
  }

  private inside(file: string): boolean {
    try {
      const real = realpathSync(file);
      return real.startsWith(this.realRoot + path.sep);
    } catch {
      return false;
    }
  }

  /** The index-th pair of a split at the dataset's size, decoded and checked as training does; an FprlError naming the file otherwise. */
  async sample(split: string, index: number): Promise<DatasetSample> {
    const where = `${this.info.root} (${split})`;
    const items = this.items.get(split as Split);
    if (!items) {
      throw new FprlError(`the data folder has no split '${split}'`, {
        where: this.info.root,
        hint: `splits found: ${[...this.items.keys()].join(', ') || 'none'}`,
      });
    }
    if (!Number.isInteger(index) || index < 0 || index >= items.length) {
      throw new FprlError(`index ${index} is out of range (0..${items.length - 1})`, { where });
    }
    const item = items[index];
    const own = [item.image, ...(item.label.kind === 'celeb-parts' ? item.label.parts.map((p) => p.path) : [item.label.path])];
    for (const f of own) {
      if (!this.inside(f)) {
        throw new FprlError(`the file's real path leaves the data folder ${this.info.root}, so fprl serve does not read it`, {
          where: f,
          hint: 'copy the file into the data folder instead of linking it',
        });
      }
    }
    const s = await decodeItem(item, { height: this.info.size, width: this.info.size });
    const root = this.info.root;
    return {
      split: split as Split,
      index,
      id: item.id,
      height: s.height,
      width: s.width,
      image: `/data/${urlOf(root, item.image)}`,
      label: item.label.kind === 'celeb-parts' ? undefined : `/data/${urlOf(root, item.label.path)}`,
      rgb: Buffer.from(s.rgb.buffer, s.rgb.byteOffset, s.rgb.byteLength).toString('base64'),
      labels: Buffer.from(s.label.buffer, s.label.byteOffset, s.label.byteLength).toString('base64'),
    };
  }

}

/** A file's path under the root with '/' separators (the key of the served files). */
function relativeOf(root: string, file: string): string {
  return path.relative(root, file).split(path.sep).join('/');
}

/** The URL path of a file under the root: its relative path, each part percent-encoded. */
function urlOf(root: string, file: string): string {
  return relativeOf(root, file).split('/').map(encodeURIComponent).join('/');
}

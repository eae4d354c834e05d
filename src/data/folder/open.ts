/**
 * Turn a scanned folder into a Dataset: decode and check every sample once (so a bad file
 * fails at open, never in the middle of training), then keep the samples in memory, in an
 * on-disk cache, or (for sets larger than the memory budget without a cache) decode them
 * again on access.
 */
import { promises as fs } from 'node:fs';
import { CLASS_NAMES } from '../../core/classes.js';
import { FprlError } from '../../core/errors.js';
import type { Dataset, NativeLabel, Sample } from '../../core/types.js';
import { readImageSize } from '../image-io.js';
import { normalizeImage } from '../normalize.js';
import { CACHE_VERSION, CacheWriter, cacheFileName, cacheKey, readCacheMeta, recordBytes } from './cache.js';
import { type DecodedSample, decodeItem, decodeLabel } from './decode.js';
import { type Problem, describeProblem, problemOf, problemsError } from './problems.js';
import type { FolderItem, ScanResult } from './scan.js';
import { CacheFileStore, DecodeStore, MemoryStore, type SampleStore, type StoredSample } from './store.js';

/** Options shared by the folder readers. */
export interface FolderOptions {
  /** Resize every sample to size x size (image: Lanczos, label: nearest). Default: keep the stored size (all samples must then share it). */
  size?: number;
  /** Skip bad samples with a warning instead of failing. Default false. */
  skipBad?: boolean;
  /** Folder for the decoded-sample cache, or false / undefined for none. */
  cache?: string | false;
  /** Receives one line per skipped sample or ignored file. */
  onWarning?: (msg: string) => void;
  /** Bytes of decoded samples kept in memory (default 1 GiB); larger sets are read from the cache file, or decoded per access. */
  memoryBudget?: number;
  /** Samples decoded in parallel at open (default 8). */
  concurrency?: number;
}

/** Identity of a folder dataset, for names, messages and cache keys. */
export interface FolderInfo {
  /** Short kind used in cache file names, e.g. 'lapa'. */
  kind: string;
  root: string;
  split: string;
  /** Reader settings that change the decoded samples (part of the cache key). */
  settings: Record<string, unknown>;
}

const DEFAULT_BUDGET = 1 << 30;

/** Where a folder dataset's native labels come from: its source files, and whether `get` resized them. */
export interface FolderSource {
  /** The source files of each sample, in index order. */
  items: readonly FolderItem[];
  /** True when the samples were resized to `size` at open (their labels are then not native). */
  resized: boolean;
}

/** A dataset over decoded folder samples. */
export class FolderDataset implements Dataset {
  readonly classNames = CLASS_NAMES;
  readonly length: number;

  constructor(
    readonly name: string,
    readonly height: number,
    readonly width: number,
    readonly ids: readonly string[],
    private readonly store: SampleStore,
    /** Where the samples live: 'memory', 'cache-file' or 'decode'. */
    readonly storage: 'memory' | 'cache-file' | 'decode',
    /** The cache file used, if any. */
    readonly cacheFile?: string,
    /** True when the samples came from an existing cache (nothing was decoded). */
    readonly cacheHit = false,
    /** The source files, for {@link native}; without them the stored labels count as native. */
    private readonly source?: FolderSource,
  ) {
    this.length = ids.length;
  }

  /**
   * The label of sample `index` at its own size, decoded again from its file when the set was
   * opened with `size` (so no native label is held in memory), or the stored label otherwise.
   * The photo's size is read from its header (LaPa: the label's size, checked at open).
   */
  async native(index: number): Promise<NativeLabel> {
    this.checkIndex(index);
    const item = this.source?.items[index];
    if (!item || !this.source?.resized) {
      const s = await this.store.read(index);
      const photo = item && item.label.kind !== 'lapa' ? await readImageSize(item.image) : undefined;
      return {
        label: s.label.slice(),
        height: this.height,
        width: this.width,
        imageHeight: photo?.height ?? this.height,
        imageWidth: photo?.width ?? this.width,
      };
    }
    const { label } = await decodeLabel(item.label);
    const photo = item.label.kind === 'lapa' ? label : await readImageSize(item.image);
    return {
      label: label.data,
      height: label.height,
      width: label.width,
      imageHeight: photo.height,
      imageWidth: photo.width,
    };
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new FprlError(`index ${index} is out of range (0..${this.length - 1})`, { where: this.name });
    }
  }

  /** The stored label `[H,W]` of sample `index`, not copied (read only): for counting classes. */
  async storedLabel(index: number): Promise<Uint8Array> {
    this.checkIndex(index);
    return (await this.store.read(index)).label;
  }

  async get(index: number): Promise<Sample> {
    this.checkIndex(index);
    const s = await this.store.read(index);
    return {
      id: this.ids[index],
      image: normalizeImage(s.rgb),
      label: s.label.slice(),
      height: this.height,
      width: this.width,
    };
  }
}

function checkSize(size: number | undefined): { height: number; width: number } | undefined {
  if (size === undefined) return undefined;
  if (!Number.isInteger(size) || size < 8 || size > 4096) {
    throw new FprlError(`size must be an integer in 8..4096, got ${size}`, { where: 'size' });
  }
  return { height: size, width: size };
}

function report(problems: Problem[], opts: FolderOptions, context: string): void {
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length && !opts.skipBad) throw problemsError(errors, context);
  for (const p of problems) {
    opts.onWarning?.(p.severity === 'error' ? `skipped ${describeProblem(p)}` : describeProblem(p));
  }
}

/** Decode, check, store. */
export async function openFolder(
  scan: ScanResult,
  info: FolderInfo,
  opts: FolderOptions = {},
): Promise<FolderDataset> {
  const target = checkSize(opts.size);
  const name = `${info.kind}:${info.root}/${info.split}`;
  const context = `${info.root} (${info.split})`;
  const budget = opts.memoryBudget ?? DEFAULT_BUDGET;
  const sizeTag = target ? `${target.height}x${target.width}` : 'native';

  let cacheFile: string | undefined;
  let key = '';
  if (opts.cache) {
    cacheFile = cacheFileName(opts.cache, info.kind, info.root, info.split, sizeTag);
    key = await cacheKey(scan.files, { ...info, root: undefined, layout: scan.layout, size: sizeTag });
    const meta = await readCacheMeta(cacheFile, key);
    if (meta) {
      report(meta.problems, opts, context);
      const bytes = meta.ids.length * recordBytes(meta.height, meta.width);
      const store =
        bytes <= budget
          ? MemoryStore.fromRecords(await fs.readFile(cacheFile), meta.ids.length, meta.height, meta.width)
          : new CacheFileStore(cacheFile, meta.height, meta.width);
      const byId = new Map(scan.items.map((it) => [it.id, it]));
      const items = meta.ids.map((id) => byId.get(id));
      return new FolderDataset(
        name,
        meta.height,
        meta.width,
        meta.ids,
        store,
        bytes <= budget ? 'memory' : 'cache-file',
        cacheFile,
        true,
        items.every((it) => it !== undefined)
          ? { items: items as FolderItem[], resized: target !== undefined }
          : undefined,
      );
    }
  }

  const problems: Problem[] = [...scan.problems];
  const writer = cacheFile ? new CacheWriter(cacheFile) : undefined;
  await writer?.open();
  try {
    const kept: FolderItem[] = [];
    let memory: StoredSample[] | undefined = [];
    let size = target;
    let held = 0;
    const concurrency = Math.max(1, opts.concurrency ?? 8);
    for (let start = 0; start < scan.items.length; start += concurrency) {
      const chunk = scan.items.slice(start, start + concurrency);
      const results = await Promise.all(
        chunk.map((item) =>
          decodeItem(item, target).then(
            (s): DecodedSample | Problem => s,
            (e) => problemOf(e, item.image),
          ),
        ),
      );
      for (let k = 0; k < chunk.length; k++) {
        const r = results[k];
        const item = chunk[k];
        if ('severity' in r) {
          problems.push(r);
          continue;
        }
        size ??= { height: r.height, width: r.width };
        if (r.height !== size.height || r.width !== size.width) {
          problems.push({
            file: item.image,
            message: `sample is ${r.width}x${r.height} but earlier samples are ${size.width}x${size.height}`,
            hint: 'pass size (CLI: --size) to resize every sample to one size',
            severity: 'error',
          });
          continue;
        }
        kept.push(item);
        await writer?.append(r.rgb, r.label);
        if (memory) {
          held += r.rgb.length + r.label.length;
          if (held > budget) memory = undefined;
          else memory.push({ rgb: r.rgb, label: r.label });
        }
      }
    }
    report(problems, opts, context);
    if (!kept.length || !size) {
      throw new FprlError(`no usable samples in ${context}`, {
        where: info.root,
        hint: 'check that the folder holds images and labels in the expected layout',
      });
    }
    const ids = kept.map((it) => it.id);
    const source: FolderSource = { items: kept, resized: target !== undefined };
    if (writer && cacheFile) {
      await writer.commit({
        version: CACHE_VERSION,
        key,
        height: size.height,
        width: size.width,
        ids,
        problems,
      });
      const store = memory ? new MemoryStore(memory) : new CacheFileStore(cacheFile, size.height, size.width);
      return new FolderDataset(
        name,
        size.height,
        size.width,
        ids,
        store,
        memory ? 'memory' : 'cache-file',
        cacheFile,
        false,
        source,
      );
    }
    const store = memory ? new MemoryStore(memory) : new DecodeStore(kept, size);
    return new FolderDataset(
      name,
      size.height,
      size.width,
      ids,
      store,
      memory ? 'memory' : 'decode',
      undefined,
      false,
      source,
    );
  } catch (e) {
    await writer?.abort();
    throw e;
  }
}

/**
 * The datasets of an experiment's `dataset` section, opened once per process: every run of
 * a sweep (and every run a worker takes) shares the decoded folder samples instead of
 * decoding the same images again.
 */
import { openCelebAMask, openLapaFolder, SyntheticFaces, type AugmentOptions } from '../data/index.js';
import type { Dataset } from '../core/types.js';
import type { DatasetConfig } from './schema.js';

export type SplitName = 'train' | 'val' | 'test';

const opened = new Map<string, Promise<Dataset>>();

/** Open one split (cached per process by the dataset section and split). */
export function openSplit(
  ds: DatasetConfig,
  split: SplitName,
  warn: (msg: string) => void = () => undefined,
): Promise<Dataset> {
  const key = JSON.stringify([ds, split]);
  let p = opened.get(key);
  if (!p) {
    p = open(ds, split, warn);
    // A failed open is not cached: fixing the folder and resuming must work in the same worker.
    p.catch(() => opened.delete(key));
    opened.set(key, p);
  }
  return p;
}

/** Forget the opened datasets (a sweep's main process, once it has checked them for its workers). */
export function releaseSplits(): void {
  opened.clear();
}

async function open(ds: DatasetConfig, split: SplitName, warn: (msg: string) => void): Promise<Dataset> {
  if (ds.kind === 'synthetic')
    return new SyntheticFaces({
      size: ds.size,
      count: ds[split],
      seed: ds.seed,
      split,
      difficulty: ds.difficulty,
    });
  const opts = { size: ds.size, skipBad: ds.skipBad, cache: ds.cache ?? (false as const), onWarning: warn };
  return ds.kind === 'lapa' ? openLapaFolder(ds.root, split, opts) : openCelebAMask(ds.root, split, opts);
}

/** The env's `augment` option for a dataset section (`true`: the defaults). */
export function augmentOf(ds: DatasetConfig): AugmentOptions | false {
  const a = ds.augment;
  if (!a) return false;
  if (a === true) return {};
  const { colorJitter, ...rest } = a;
  return colorJitter === true ? rest : { ...rest, ...(colorJitter !== undefined ? { colorJitter } : {}) };
}

/** The env registry id of a dataset kind. */
export function envIdOf(ds: DatasetConfig): string {
  return ds.kind === 'synthetic'
    ? 'SyntheticFaces-v0'
    : ds.kind === 'lapa'
      ? 'FaceParsing-v0'
      : 'CelebAMask-v0';
}

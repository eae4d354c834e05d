/**
 * `fprl data check`: scan a data folder without loading it for training. Per split: how
 * many samples, the pixel share of every class, and every problem (not only the first).
 */
import path from 'node:path';
import { IGNORE_INDEX, NUM_CLASSES } from '../core/classes.js';
import { FprlError, isFprlError } from '../core/errors.js';
import { type CelebAMaskOptions, scanCelebAMask } from './folder/celebamask.js';
import { decodeItem } from './folder/decode.js';
import { SPLITS, type Split, scanLapa } from './folder/lapa.js';
import { type Problem, problemOf } from './folder/problems.js';
import { addLabel, degenerateProblems, newTally } from './degenerate.js';
import type { ScanResult } from './folder/scan.js';

export interface CheckOptions {
  format?: 'lapa' | 'celebamask';
  /** CelebAMask-HQ reader options. */
  celebamask?: Pick<CelebAMaskOptions, 'layout' | 'mergedOrder'>;
  /** Samples decoded in parallel (default 8). */
  concurrency?: number;
  onProgress?: (split: string, done: number, total: number) => void;
}

export interface SplitReport {
  split: Split;
  layout: string;
  /** Paired image/label samples found. */
  samples: number;
  /** Samples that decode and pass every check. */
  good: number;
  /** Labelled pixels of the good samples. */
  pixels: number;
  /** Share of the pixels per class (11 entries), then of ignore (255). */
  classShare: number[];
  ignoreShare: number;
  /** In how many good samples each class appears. */
  presence: number[];
  problems: Problem[];
}

export interface CheckReport {
  root: string;
  format: 'lapa' | 'celebamask';
  splits: SplitReport[];
  /** Splits that are not in the folder. */
  missing: Split[];
  errors: number;
  warnings: number;
}

async function checkSplit(
  split: Split,
  scan: ScanResult,
  opts: CheckOptions,
  where: string,
): Promise<SplitReport> {
  const counts = new Float64Array(256);
  const tally = newTally();
  const problems: Problem[] = [...scan.problems];
  let good = 0;
  const conc = Math.max(1, opts.concurrency ?? 8);
  for (let start = 0; start < scan.items.length; start += conc) {
    const chunk = scan.items.slice(start, start + conc);
    const results = await Promise.all(
      chunk.map((it) => decodeItem(it).catch((e: unknown) => problemOf(e, it.image))),
    );
    for (const r of results) {
      if ('severity' in r) {
        problems.push(r);
        continue;
      }
      good++;
      for (let i = 0; i < r.label.length; i++) counts[r.label[i]]++;
      addLabel(tally, r.label);
    }
    opts.onProgress?.(split, Math.min(start + conc, scan.items.length), scan.items.length);
  }
  problems.push(...degenerateProblems(split, tally, where));
  const pixels = counts.reduce((a, b) => a + b, 0);
  const share = (v: number) => (pixels ? v / pixels : 0);
  return {
    split,
    layout: scan.layout,
    samples: scan.items.length,
    good,
    pixels,
    classShare: Array.from({ length: NUM_CLASSES }, (_, k) => share(counts[k])),
    ignoreShare: share(counts[IGNORE_INDEX]),
    presence: tally.presence,
    problems,
  };
}

/** Check every split of a LaPa-layout (default) or CelebAMask-HQ folder. */
export async function checkDataFolder(root: string, opts: CheckOptions = {}): Promise<CheckReport> {
  const format = opts.format ?? 'lapa';
  if (format !== 'lapa' && format !== 'celebamask') {
    throw new FprlError(`unknown format '${format as string}'`, {
      where: '--format',
      hint: 'use lapa or celebamask',
    });
  }
  const abs = path.resolve(root);
  const splits: SplitReport[] = [];
  const missing: Split[] = [];
  for (const split of SPLITS) {
    let scan: ScanResult;
    try {
      scan =
        format === 'lapa' ? await scanLapa(abs, split) : await scanCelebAMask(abs, split, opts.celebamask);
    } catch (e) {
      // A split that is not there is reported, not an error (many sets have no test split).
      if (
        isFprlError(e) &&
        (format === 'lapa' ? /^folder not found/ : /^no CelebAMask-HQ layout/).test(e.message)
      ) {
        missing.push(split);
        continue;
      }
      throw e;
    }
    splits.push(await checkSplit(split, scan, opts, format === 'lapa' ? path.join(abs, split) : abs));
  }
  if (!splits.length) {
    throw new FprlError(`no ${format === 'lapa' ? 'LaPa' : 'CelebAMask-HQ'} splits found`, {
      where: abs,
      hint:
        format === 'lapa'
          ? 'expected train/, val/ or test/ folders, each with images/ and labels/'
          : 'see the layouts listed in src/data/folder/celebamask.ts',
    });
  }
  // fprl run trains on train, selects on val and scores on the evaluation split (default test).
  const absent: Problem[] = missing.map((split) => ({
    file: format === 'lapa' ? path.join(abs, split) : abs,
    message: `the ${split} split is missing`,
    hint:
      split === 'train'
        ? 'fprl run trains on it: add train/images and train/labels'
        : `fprl run reads it (${split === 'val' ? 'validation during training' : 'the default evaluation split'}); add it, or split some samples off train`,
    severity: split === 'train' ? 'error' : 'warning',
  }));
  if (absent.length) splits[0].problems.unshift(...absent);
  const all = splits.flatMap((s) => s.problems);
  return {
    root: abs,
    format,
    splits,
    missing,
    errors: all.filter((p) => p.severity === 'error').length,
    warnings: all.filter((p) => p.severity === 'warning').length,
  };
}

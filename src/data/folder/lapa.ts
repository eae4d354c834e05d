/**
 * The LaPa folder layout:
 * ```
 * root/{train,val,test}/images/<id>.jpg|.png   RGB faces
 * root/{train,val,test}/labels/<id>.png        8-bit greyscale class ids 0..10, 255 = ignore
 * root/{train,val,test}/landmarks/...          optional, ignored
 * ```
 */
import path from 'node:path';
import { FprlError } from '../../core/errors.js';
import type { Dataset } from '../../core/types.js';
import { type FolderOptions, openFolder } from './open.js';
import { type ScanResult, isDir, pairFolder } from './scan.js';

export type Split = 'train' | 'val' | 'test';
export const SPLITS: readonly Split[] = ['train', 'val', 'test'];

export function checkSplit(split: string, where: string): asserts split is Split {
  if (!(SPLITS as readonly string[]).includes(split)) {
    throw new FprlError(`unknown split '${split}'`, { where, hint: `use one of ${SPLITS.join(', ')}` });
  }
}

/** Find and pair the files of one LaPa split (no decoding). */
export async function scanLapa(root: string, split: Split): Promise<ScanResult> {
  const dir = path.join(path.resolve(root), split);
  const imageDir = path.join(dir, 'images');
  const labelDir = path.join(dir, 'labels');
  for (const d of [dir, imageDir, labelDir]) {
    if (!(await isDir(d))) {
      throw new FprlError('folder not found', {
        where: d,
        hint: `a LaPa folder holds ${split}/images/*.jpg|png and ${split}/labels/*.png under its root`,
      });
    }
  }
  const scan = await pairFolder(imageDir, labelDir, (p) => ({ kind: 'lapa', path: p }));
  return { ...scan, layout: 'lapa' };
}

/**
 * Open one split of a LaPa-layout folder. Every sample is decoded and checked at open
 * (label values 0..10 or 255, label size equal to image size, no unpaired files, readable
 * images); problems throw an FprlError naming the file, or are skipped with `skipBad`.
 */
export async function openLapaFolder(root: string, split: Split, opts: FolderOptions = {}): Promise<Dataset> {
  checkSplit(split, root);
  const scan = await scanLapa(root, split);
  return openFolder(scan, { kind: 'lapa', root: path.resolve(root), split, settings: {} }, opts);
}

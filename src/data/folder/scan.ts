/**
 * Listing and pairing image and label files. Ids are file stems; they sort numerically when
 * both are integers ("2" before "10"), otherwise by code point, the same on every platform.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FprlError } from '../../core/errors.js';
import type { Problem } from './problems.js';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'];

/** How a sample's label map is obtained. */
export type LabelRef =
  | { kind: 'lapa'; path: string }
  | { kind: 'celeb19'; path: string; order: 'g_mask' | 'face-parsing-pytorch' }
  | { kind: 'celeb-parts'; parts: { part: string; path: string }[] };

export interface FolderItem {
  id: string;
  image: string;
  label: LabelRef;
}

export interface ScanResult {
  items: FolderItem[];
  problems: Problem[];
  /** Every file whose change must invalidate a cache (images, labels, split lists). */
  files: string[];
  /** Which layout was found, for messages and cache keys. */
  layout: string;
}

export function compareIds(a: string, b: string): number {
  const na = /^\d+$/.test(a);
  const nb = /^\d+$/.test(b);
  if (na && nb && a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

export async function isDir(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** Visible files of a directory (dotfiles skipped), sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw new FprlError(`cannot list folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {
      where: dir,
      hint: 'check the path and permissions',
      cause: e,
    });
  }
  return entries
    .filter((e) => !e.name.startsWith('.') && (e.isFile() || e.isSymbolicLink()))
    .map((e) => e.name)
    .sort();
}

function stem(name: string): string {
  return name.slice(0, name.length - path.extname(name).length);
}

/**
 * Pair `imageDir/<id>.{jpg,jpeg,png}` with `labelDir/<id>.png`. Unpaired files and duplicate
 * ids are errors; files with other extensions are warnings (ignored). `keep` filters ids
 * (e.g. a split list) before pairing, so files of other splits are not reported.
 */
export async function pairFolder(
  imageDir: string,
  labelDir: string,
  makeLabel: (labelPath: string) => LabelRef,
  keep: (id: string) => boolean = () => true,
): Promise<ScanResult> {
  const problems: Problem[] = [];
  const images = new Map<string, string>();
  const labels = new Map<string, string>();
  const files: string[] = [];
  const duplicated = new Set<string>();
  for (const name of await listFiles(imageDir)) {
    const file = path.join(imageDir, name);
    const ext = path.extname(name).toLowerCase();
    if (!IMAGE_EXTENSIONS.includes(ext)) {
      problems.push({
        file,
        message: `not an image file (${ext || 'no extension'}); ignored`,
        severity: 'warning',
      });
      continue;
    }
    const id = stem(name);
    if (!keep(id)) continue;
    files.push(file);
    const other = images.get(id);
    if (other) {
      problems.push({
        file,
        message: `two images have the id '${id}' (${path.basename(other)} and ${name})`,
        hint: 'keep one of them',
        severity: 'error',
      });
      duplicated.add(id);
      continue;
    }
    images.set(id, file);
  }
  for (const name of await listFiles(labelDir)) {
    const file = path.join(labelDir, name);
    const ext = path.extname(name).toLowerCase();
    if (ext !== '.png') {
      problems.push({
        file,
        message: `not a label file (${ext || 'no extension'}, expected .png); ignored`,
        severity: 'warning',
      });
      continue;
    }
    const id = stem(name);
    if (!keep(id)) continue;
    files.push(file);
    labels.set(id, file);
  }
  const items: FolderItem[] = [];
  for (const [id, image] of images) {
    const label = labels.get(id);
    if (!label) {
      problems.push({
        file: image,
        message: `image has no label (expected ${path.join(labelDir, `${id}.png`)})`,
        hint: 'add the label map or remove the image',
        severity: 'error',
      });
      continue;
    }
    if (!duplicated.has(id)) items.push({ id, image, label: makeLabel(label) });
  }
  for (const [id, label] of labels) {
    if (!images.has(id)) {
      problems.push({
        file: label,
        message: `label has no image (expected ${path.join(imageDir, `${id}.jpg`)} or .png)`,
        hint: 'add the image or remove the label',
        severity: 'error',
      });
    }
  }
  items.sort((a, b) => compareIds(a.id, b.id));
  return { items, problems, files: files.sort(), layout: '' };
}

/**
 * CelebAMask-HQ readers. Layouts, tried in this order (or forced with `layout`):
 * ```
 * merged, split folders:   root/<split>/images/*.jpg + root/<split>/labels/*.png   (19-class masks)
 * g_partition.py output:   root/<split>_img/*.jpg    + root/<split>_label/*.png
 * g_mask.py output:        root/CelebA-HQ-img/<k>.jpg + root/CelebAMask-HQ-mask/<k>.png
 * original release:        root/CelebA-HQ-img/<k>.jpg + root/CelebAMask-HQ-mask-anno/<n>/<kkkkk>_<part>.png
 * ```
 * The last two are not split: the split comes from root/CelebA-HQ-to-CelebA-mapping.txt
 * with the rule of the official g_partition.py (CelebA index 162771..182637 val, >= 182638
 * test, the rest train). Masks are mapped to the 11 LaPa classes (see celeb-classes.ts).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FprlError } from '../../core/errors.js';
import type { Dataset } from '../../core/types.js';
import type { Problem } from './problems.js';
import { type Split, checkSplit } from './lapa.js';
import { type FolderOptions, openFolder } from './open.js';
import {
  type FolderItem,
  type ScanResult,
  IMAGE_EXTENSIONS,
  compareIds,
  isDir,
  listFiles,
  pairFolder,
} from './scan.js';

export type CelebLayout = 'auto' | 'split-folders' | 'partitioned' | 'merged' | 'parts';

export interface CelebAMaskOptions extends FolderOptions {
  /** Which layout to read; 'auto' (default) tries them in the documented order. */
  layout?: CelebLayout;
  /** Index order of merged 19-class masks: 'g_mask' (official, default) or 'face-parsing-pytorch'. */
  mergedOrder?: 'g_mask' | 'face-parsing-pytorch';
}

const IMG_DIR = 'CelebA-HQ-img';
const MASK_DIR = 'CelebAMask-HQ-mask';
const ANNO_DIRS = ['CelebAMask-HQ-mask-anno', 'CelebAMaskHQ-mask-anno'];
const MAPPING = 'CelebA-HQ-to-CelebA-mapping.txt';

/** Split of each CelebA-HQ index, by the official g_partition.py rule. */
export async function readCelebSplits(root: string): Promise<Map<string, Split>> {
  const file = path.join(root, MAPPING);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    throw new FprlError(`${MAPPING} not found: it says which images are train, val and test`, {
      where: file,
      hint: 'copy it from the CelebAMask-HQ release into the root, or split the data into <split>/images and <split>/labels folders',
    });
  }
  const out = new Map<string, Split>();
  text.split(/\r?\n/).forEach((line, n) => {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 2 || !/^\d+$/.test(cols[0])) return; // header or blank
    const orig = Number(cols[1]);
    if (!Number.isInteger(orig)) {
      throw new FprlError(`line ${n + 1}: '${cols[1]}' is not a CelebA index`, { where: file });
    }
    out.set(String(Number(cols[0])), orig >= 182638 ? 'test' : orig >= 162771 ? 'val' : 'train');
  });
  return out;
}

async function scanParts(root: string, annoDir: string, split: Split): Promise<ScanResult> {
  const splits = await readCelebSplits(root);
  const problems: Problem[] = [];
  const files: string[] = [path.join(root, MAPPING)];
  const imageDir = path.join(root, IMG_DIR);
  const images = new Map<string, string>();
  for (const name of await listFiles(imageDir)) {
    const ext = path.extname(name).toLowerCase();
    const file = path.join(imageDir, name);
    const id = name.slice(0, name.length - ext.length);
    if (!IMAGE_EXTENSIONS.includes(ext) || !/^\d+$/.test(id)) {
      problems.push({ file, message: 'not a CelebA-HQ image (<index>.jpg); ignored', severity: 'warning' });
      continue;
    }
    const key = String(Number(id));
    if (splits.get(key) !== split) continue;
    images.set(key, file);
    files.push(file);
  }
  const parts = new Map<string, { part: string; path: string }[]>();
  const subdirs = (await fs.readdir(annoDir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  for (const sub of subdirs.sort(compareIds)) {
    for (const name of await listFiles(path.join(annoDir, sub))) {
      const file = path.join(annoDir, sub, name);
      const m = /^(\d+)_([a-z_]+)\.png$/i.exec(name);
      if (!m) {
        problems.push({
          file,
          message: 'not a part mask (<index>_<part>.png); ignored',
          severity: 'warning',
        });
        continue;
      }
      const key = String(Number(m[1]));
      if (splits.get(key) !== split) continue;
      files.push(file);
      if (!parts.has(key)) parts.set(key, []);
      parts.get(key)!.push({ part: m[2].toLowerCase(), path: file });
    }
  }
  const items: FolderItem[] = [];
  for (const [id, image] of images) {
    const p = parts.get(id);
    if (!p) {
      problems.push({
        file: image,
        message: `image has no part masks (expected ${annoDir}/<n>/${id.padStart(5, '0')}_<part>.png)`,
        hint: 'add its masks or remove the image',
        severity: 'error',
      });
      continue;
    }
    items.push({ id, image, label: { kind: 'celeb-parts', parts: p } });
  }
  for (const [id, p] of parts) {
    if (!images.has(id)) {
      problems.push({
        file: p[0].path,
        message: `part masks have no image (expected ${path.join(imageDir, `${id}.jpg`)})`,
        hint: 'add the image or remove its masks',
        severity: 'error',
      });
    }
  }
  items.sort((a, b) => compareIds(a.id, b.id));
  return { items, problems, files: files.sort(), layout: 'parts' };
}

/** Find the layout and pair the files of one split (no decoding). */
export async function scanCelebAMask(
  root: string,
  split: Split,
  opts: Pick<CelebAMaskOptions, 'layout' | 'mergedOrder'> = {},
): Promise<ScanResult> {
  const abs = path.resolve(root);
  const layout = opts.layout ?? 'auto';
  const order = opts.mergedOrder ?? 'g_mask';
  const merged = (p: string) => ({ kind: 'celeb19' as const, path: p, order });
  const want = (l: CelebLayout) => layout === 'auto' || layout === l;

  const splitDir = path.join(abs, split);
  if (
    want('split-folders') &&
    (await isDir(path.join(splitDir, 'images'))) &&
    (await isDir(path.join(splitDir, 'labels')))
  ) {
    return {
      ...(await pairFolder(path.join(splitDir, 'images'), path.join(splitDir, 'labels'), merged)),
      layout: 'split-folders',
    };
  }
  if (
    want('partitioned') &&
    (await isDir(path.join(abs, `${split}_img`))) &&
    (await isDir(path.join(abs, `${split}_label`)))
  ) {
    return {
      ...(await pairFolder(path.join(abs, `${split}_img`), path.join(abs, `${split}_label`), merged)),
      layout: 'partitioned',
    };
  }
  const hasImages = await isDir(path.join(abs, IMG_DIR));
  if (want('merged') && hasImages && (await isDir(path.join(abs, MASK_DIR)))) {
    const splits = await readCelebSplits(abs);
    const scan = await pairFolder(
      path.join(abs, IMG_DIR),
      path.join(abs, MASK_DIR),
      merged,
      (id) => splits.get(String(Number(id))) === split,
    );
    return { ...scan, files: [path.join(abs, MAPPING), ...scan.files], layout: 'merged' };
  }
  if (want('parts') && hasImages) {
    for (const d of ANNO_DIRS) {
      if (await isDir(path.join(abs, d))) return scanParts(abs, path.join(abs, d), split);
    }
  }
  throw new FprlError(
    `no CelebAMask-HQ layout${layout === 'auto' ? '' : ` '${layout}'`} found for split '${split}'`,
    {
      where: abs,
      hint:
        `expected ${split}/images + ${split}/labels, ${split}_img + ${split}_label, ` +
        `${IMG_DIR} + ${MASK_DIR}, or ${IMG_DIR} + ${ANNO_DIRS[0]}/<n>/<id>_<part>.png`,
    },
  );
}

/** Open one split of a CelebAMask-HQ folder, mapped to the 11 LaPa classes. */
export async function openCelebAMask(
  root: string,
  split: Split,
  opts: CelebAMaskOptions = {},
): Promise<Dataset> {
  checkSplit(split, root);
  const scan = await scanCelebAMask(root, split, opts);
  return openFolder(
    scan,
    {
      kind: 'celebamask',
      root: path.resolve(root),
      split,
      settings: { mergedOrder: opts.mergedOrder ?? 'g_mask' },
    },
    opts,
  );
}

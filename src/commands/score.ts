/**
 * `fprl score --pred DIR --gt DIR [--ignore 255] [--json]`: score a folder of predicted label
 * PNGs against a folder of ground-truth label PNGs (matched by file stem) with the LaPa
 * protocol, so any model's predictions can be compared with this project's numbers.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { IGNORE_INDEX, NUM_CLASSES } from '../core/classes.js';
import { readLabelPng } from '../data/image-io.js';
import { FprlError } from '../core/errors.js';
import {
  ConfusionMatrix,
  PerImageStats,
  type PerImageMetric,
  type Scores,
  type Spread,
} from '../metrics/index.js';

export interface ScoreOptions {
  /** Folder of predicted label PNGs (class ids 0..10). */
  pred: string;
  /** Folder of ground-truth label PNGs (class ids 0..10, `ignore` where nothing counts). */
  gt: string;
  /** Ground-truth value that counts for nothing. Default 255. */
  ignore?: number;
}

/** The split-level LaPa scores plus per-image mean and spread. NaN is written as null in JSON. */
export interface ScoreReport extends Scores {
  images: number;
  perImage: Record<PerImageMetric, Spread>;
}

const READ_AHEAD = 8;
const LIST_MAX = 5;

/** Score every prediction against its ground truth. Throws an FprlError naming the files on any mismatch. */
export async function scoreFolders(opts: ScoreOptions): Promise<ScoreReport> {
  const ignore = opts.ignore ?? IGNORE_INDEX;
  const [preds, gts] = await Promise.all([labelFiles(opts.pred, '--pred'), labelFiles(opts.gt, '--gt')]);
  if (gts.size === 0) {
    throw new FprlError('no .png label maps in the ground-truth folder', {
      where: opts.gt,
      hint: 'point --gt at a folder of label PNGs',
    });
  }
  const missing = [...gts.keys()].filter((s) => !preds.has(s));
  const extra = [...preds.keys()].filter((s) => !gts.has(s));
  if (missing.length || extra.length) {
    const parts = [
      missing.length
        ? `${missing.length} ground-truth image(s) have no prediction: ${listSome(missing)}`
        : '',
      extra.length ? `${extra.length} prediction(s) have no ground truth: ${listSome(extra)}` : '',
    ].filter(Boolean);
    throw new FprlError(parts.join('; '), {
      where: `${opts.pred} vs ${opts.gt}`,
      hint: 'files are matched by name without extension (face_1.png <-> face_1.png); predict every image of the split, and only those',
    });
  }
  const stems = [...gts.keys()].sort();
  const cm = new ConfusionMatrix(NUM_CLASSES, ignore);
  const perImage = new PerImageStats(NUM_CLASSES, ignore);
  for (let start = 0; start < stems.length; start += READ_AHEAD) {
    const chunk = stems.slice(start, start + READ_AHEAD);
    // Decode a few files at once (sharp works off the main thread), then count in order.
    const pairs = await Promise.all(
      chunk.map((s) => Promise.all([readLabelPng(preds.get(s)!), readLabelPng(gts.get(s)!)])),
    );
    pairs.forEach(([p, g], k) => {
      const predFile = preds.get(chunk[k])!;
      const gtFile = gts.get(chunk[k])!;
      if (p.height !== g.height || p.width !== g.width) {
        throw new FprlError(
          `prediction is ${p.width}x${p.height} but its ground truth ${gtFile} is ${g.width}x${g.height}`,
          {
            where: predFile,
            hint: 'predict at the label size (resize predictions with nearest neighbour, never bilinear)',
          },
        );
      }
      try {
        cm.add(p.data, g.data);
      } catch (e) {
        const inPred = /^prediction/.test((e as Error).message);
        throw new FprlError((e as Error).message.replace(/^(prediction|target) /, ''), {
          where: inPred ? predFile : gtFile,
          hint: inPred
            ? `predicted label maps hold class ids 0..${NUM_CLASSES - 1}`
            : `ground-truth label maps hold class ids 0..${NUM_CLASSES - 1} or ${ignore} (ignore); pass --ignore if yours uses another value`,
          cause: e,
        });
      }
      perImage.add(p.data, g.data);
    });
  }
  return { images: stems.length, ...cm.scores(), perImage: perImage.summary() };
}

/** stem -> path of the .png files of a folder. */
async function labelFiles(dir: string, flag: string): Promise<Map<string, string>> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FprlError(code === 'ENOENT' ? 'folder not found' : `cannot read folder (${code})`, {
      where: dir,
      hint: `${flag} takes a folder of label PNGs`,
      cause: e,
    });
  }
  const out = new Map<string, string>();
  for (const name of names.sort()) {
    if (path.extname(name).toLowerCase() !== '.png') continue;
    const stem = name.slice(0, -4);
    if (out.has(stem)) {
      throw new FprlError(`two label maps share the name '${stem}'`, {
        where: dir,
        hint: 'keep one file per image',
      });
    }
    out.set(stem, path.join(dir, name));
  }
  return out;
}

function listSome(names: string[]): string {
  const shown = names.slice(0, LIST_MAX).join(', ');
  return names.length > LIST_MAX ? `${shown} and ${names.length - LIST_MAX} more` : shown;
}

/** The report as a fixed-width table (NaN as '-', i.e. undefined for that class). */
export function formatScoreReport(r: ScoreReport): string {
  const num = (x: number) => (Number.isNaN(x) ? '-' : x.toFixed(4));
  const lines = [
    `${'class'.padEnd(14)}${['precision', 'recall', 'F1', 'IoU'].map((h) => h.padStart(10)).join('')}${'support'.padStart(12)}`,
  ];
  for (const [name, c] of Object.entries(r.perClass)) {
    lines.push(
      `${name.padEnd(14)}${[c.precision, c.recall, c.f1, c.iou].map((x) => num(x).padStart(10)).join('')}${String(c.support).padStart(12)}`,
    );
  }
  const spread = (s: Spread) => `${num(s.mean)} ± ${num(s.std)} (n=${s.n})`;
  lines.push(
    '',
    `images          ${r.images} (${r.pixels} scored pixels)`,
    `mean F1 (Dice)  ${num(r.meanF1)}   (10 foreground classes, from one confusion matrix over the split)`,
    `mIoU            ${num(r.mIoU)}   (all 11 classes)`,
    `pixel accuracy  ${num(r.pixelAccuracy)}`,
    `per image       mean F1 ${spread(r.perImage.meanF1)}, mIoU ${spread(r.perImage.mIoU)}`,
  );
  if (r.absent.length)
    lines.push(`absent from predictions and truth (left out of the means): ${r.absent.join(', ')}`);
  return lines.join('\n');
}

export function register(program: Command): void {
  program
    .command('score')
    .description(
      'score predicted label PNGs against ground-truth PNGs (LaPa protocol: mean F1, mIoU, per class)',
    )
    .requiredOption('--pred <dir>', 'folder of predicted label PNGs (class ids 0..10)')
    .requiredOption('--gt <dir>', 'folder of ground-truth label PNGs, matched by file name')
    .option(
      '--ignore <value>',
      'ground-truth value that counts for nothing',
      (v) => parseIgnore(v),
      IGNORE_INDEX,
    )
    .option('--json', 'print the report as JSON')
    .action(async (opts: { pred: string; gt: string; ignore: number; json?: boolean }) => {
      const report = await scoreFolders(opts);
      process.stdout.write(`${opts.json ? JSON.stringify(report, null, 2) : formatScoreReport(report)}\n`);
    });
}

function parseIgnore(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 255) {
    throw new FprlError(`--ignore must be an integer in 0..255, got '${v}'`, { where: '--ignore' });
  }
  return n;
}

/**
 * `fprl predict --run DIR IMAGES... --out DIR`: label every image with a run's final
 * checkpoint (greedy). A photo of any size and aspect ratio is resized (Lanczos, aspect not
 * kept) to the model's square input; the logits are resized bilinearly back to the photo's
 * own size before the argmax (as evaluation does; agents without logits: nearest-neighbour
 * labels). Writes `<out>/<name>.png`, a label map at the photo's size that `fprl score --pred
 * <out>` reads, and `<out>/overlays/<name>.png`, the colours over the photo.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { describeBackend, initBackend } from '../backend/backend.js';
import { normalizeImage, readImageFile, writeLabelPng } from '../data/index.js';
import { FprlError } from '../core/errors.js';
import { guardOutput, markOutput } from '../core/output-guard.js';
import { encodePng, overlay } from '../report/pictures.js';
import { labelsAtSize, labelsNearest } from '../train/resize-logits.js';
import { decisionLogits } from '../train/evaluate.js';
import { loadRun, runLogitAdjustment } from '../experiment/load-run.js';
import { parsePositiveInt } from './run.js';

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.tif', '.tiff']);

export interface PredictOptions {
  run: string;
  /** Image files, or folders of images (not recursive). */
  images: string[];
  out: string;
  batchSize?: number;
  /** Write into a non-empty --out that fprl predict did not make. */
  force?: boolean;
  /** Flip test-time augmentation: average each image's logits with its mirror's. */
  flip?: boolean;
  /** Subtract log(class weights) from the logits (an agent trained with classWeights). */
  logitAdjustment?: boolean;
}

export interface PredictResult {
  /** One entry per image: the input and the label map written. */
  files: { image: string; label: string; overlay: string }[];
}

/** Image files named by `inputs` (folders expanded, sorted), refusing duplicate output names. */
async function listImages(inputs: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of inputs) {
    let stat;
    try {
      stat = await fs.stat(p);
    } catch {
      throw new FprlError('no such image or folder', {
        where: p,
        hint: 'give image files or folders of images',
      });
    }
    if (stat.isDirectory()) {
      const names = (await fs.readdir(p)).filter((n) => IMAGE_EXT.has(path.extname(n).toLowerCase())).sort();
      out.push(...names.map((n) => path.join(p, n)));
    } else out.push(p);
  }
  if (out.length === 0)
    throw new FprlError('no images to label', {
      where: inputs.join(' '),
      hint: 'give image files (.jpg, .png)',
    });
  const byStem = new Map<string, string>();
  for (const f of out) {
    const stem = path.parse(f).name;
    if (byStem.has(stem)) {
      throw new FprlError(`two inputs would both write ${stem}.png`, {
        where: `${byStem.get(stem)} and ${f}`,
        hint: 'predict them into different --out folders',
      });
    }
    byStem.set(stem, f);
  }
  return out;
}

export const PREDICT_COMMAND = 'fprl predict';

export async function predictImages(opts: PredictOptions): Promise<PredictResult> {
  const files = await listImages(opts.images);
  // Label maps written over the photos they were made from lose the photos: refused first.
  const state = await guardOutput(opts.out, {
    command: PREDICT_COMMAND,
    inputs: [...opts.images, opts.run],
    force: opts.force,
  });
  const loaded = await loadRun(opts.run);
  const size = loaded.exp.vit.imageSize;
  let bias: number[] | undefined;
  try {
    // Refused before the output folder is marked: nothing is written for a run that cannot do it.
    if (opts.flip && !loaded.agent.logits) {
      throw new FprlError(`agent '${loaded.entry.name}' gives no logits to average with the mirror's`, {
        where: '--flip',
        hint: 'drop --flip for this run',
      });
    }
    if (opts.logitAdjustment) bias = runLogitAdjustment(loaded);
  } catch (e) {
    loaded.agent.dispose();
    throw e;
  }
  const batchSize = opts.batchSize ?? 16;
  // A folder taken with --force stays unmarked: the user's files there stay protected next time.
  if (state !== 'forced') await markOutput(opts.out, PREDICT_COMMAND);
  await fs.mkdir(path.join(opts.out, 'overlays'), { recursive: true });
  const result: PredictResult = { files: [] };
  try {
    for (let start = 0; start < files.length; start += batchSize) {
      const chunk = files.slice(start, start + batchSize);
      const inputs = await Promise.all(chunk.map((f) => readImageFile(f, size)));
      const pixels = new Float32Array(chunk.length * size * size * 3);
      inputs.forEach((img, b) => pixels.set(normalizeImage(img.data), b * size * size * 3));
      const images = tf.tensor4d(pixels, [chunk.length, size, size, 3]);
      const obs = { images, ids: chunk };
      let logits: tf.Tensor4D | undefined;
      let labels: Int32Array | undefined;
      try {
        if (loaded.agent.logits) logits = await decisionLogits(loaded.agent, obs, { flip: opts.flip, logitBias: bias });
        else labels = (await loaded.agent.act(obs, 'greedy')).labels;
      } finally {
        images.dispose();
      }
      try {
        for (const [b, file] of chunk.entries()) {
          const photo = await readImageFile(file);
          const label = logits
            ? Uint8Array.from(labelsAtSize(logits, b, photo.height, photo.width))
            : labelsNearest(
                labels!.subarray(b * size * size, (b + 1) * size * size),
                size,
                size,
                photo.height,
                photo.width,
              );
          const stem = path.parse(file).name;
          const labelFile = path.join(opts.out, `${stem}.png`);
          const overlayFile = path.join(opts.out, 'overlays', `${stem}.png`);
          await writeLabelPng(labelFile, label, photo.height, photo.width);
          await fs.writeFile(
            overlayFile,
            await encodePng(overlay(photo.data, label), photo.height, photo.width),
          );
          result.files.push({ image: file, label: labelFile, overlay: overlayFile });
        }
      } finally {
        logits?.dispose();
      }
    }
  } finally {
    loaded.agent.dispose();
  }
  return result;
}

export function register(program: Command): void {
  program
    .command('predict')
    .description(
      "label images with a run's final checkpoint: label PNGs (for fprl score) and colour overlays",
    )
    .argument('<images...>', 'image files or folders of images')
    .requiredOption(
      '--run <dir>',
      'run folder (runs/<experiment>-<time>/<agent>/seed-<n>) or its checkpoints/',
    )
    .requiredOption('--out <dir>', 'output folder: <name>.png label maps, overlays/<name>.png')
    .option('--batch-size <n>', 'images per batch', parsePositiveInt('--batch-size'))
    .option('--flip', "flip test-time augmentation: average each image's logits with its mirror's")
    .option('--logit-adjustment', 'subtract log(class weights) from the logits (an agent trained with classWeights)')
    .option('--backend <name>', 'compute backend: auto, tensorflow-gpu, tensorflow, wasm, cpu')
    .option('--force', 'write into a non-empty --out that fprl predict did not make')
    .action(
      async (
        images: string[],
        flags: {
          run: string;
          out: string;
          batchSize?: number;
          backend?: string;
          force?: boolean;
          flip?: boolean;
          logitAdjustment?: boolean;
        },
      ) => {
        process.stderr.write(`${describeBackend(await initBackend(flags.backend))}\n`);
        const r = await predictImages({ ...flags, images });
        process.stdout.write(
          `labelled ${r.files.length} image${r.files.length === 1 ? '' : 's'} -> ${flags.out} (overlays in ${path.join(flags.out, 'overlays')})\n`,
        );
      },
    );
}

/**
 * Greedy evaluation of an agent on a held-out dataset, streamed in batches into one
 * confusion matrix (the LaPa protocol: scores from counts summed over the split), plus
 * per-image spread and a few (image, truth, prediction) triples for pictures.
 */
import * as tf from '@tensorflow/tfjs';
import type { Agent, Dataset, Sample } from '../core/types.js';
import {
  ConfusionMatrix,
  PerImageStats,
  type PerImageMetric,
  type Scores,
  type Spread,
} from '../metrics/index.js';
import { IGNORE_INDEX, NUM_CLASSES } from '../core/classes.js';
import { FprlError } from '../core/errors.js';

export interface Picture {
  id: string;
  height: number;
  width: number;
  /** [H*W*3] normalised image as the dataset gives it (denormalizeImage in src/data turns it into bytes). */
  image: Float32Array;
  /** [H*W] ground truth (255 = ignore). */
  truth: Uint8Array;
  /** [H*W] greedy prediction. */
  prediction: Uint8Array;
}

export interface EvaluateOptions {
  /** Images per batch (memory stays bounded by one batch). */
  batchSize?: number;
  /** Evaluate the first `limit` images only (0 = all). */
  limit?: number;
  /** Return this many (image, truth, prediction) triples from the start of the set. */
  pictures?: number;
  numClasses?: number;
  ignoreIndex?: number;
}

export interface EvaluationResult {
  scores: Scores;
  /** Per-image mean and spread of pixel accuracy, mean F1 and mIoU. */
  perImage: Record<PerImageMetric, Spread>;
  pictures: Picture[];
  images: number;
  seconds: number;
}

export async function evaluate(
  agent: Agent,
  dataset: Dataset,
  opts: EvaluateOptions = {},
): Promise<EvaluationResult> {
  const started = performance.now();
  const batchSize = opts.batchSize ?? 16;
  const n = opts.limit ? Math.min(opts.limit, dataset.length) : dataset.length;
  const wantPictures = opts.pictures ?? 0;
  const C = opts.numClasses ?? NUM_CLASSES;
  const ignore = opts.ignoreIndex ?? IGNORE_INDEX;
  if (n === 0) {
    throw new FprlError('the evaluation set is empty', {
      where: `dataset '${dataset.name}'`,
      hint: 'point the evaluation at a split with images',
    });
  }
  const names = dataset.classNames.length === C ? dataset.classNames : undefined;
  const cm = new ConfusionMatrix(C, ignore, names);
  const perImage = new PerImageStats(C, ignore);
  const pictures: Picture[] = [];
  const H = dataset.height;
  const W = dataset.width;
  const P = H * W;
  for (let start = 0; start < n; start += batchSize) {
    const count = Math.min(batchSize, n - start);
    const samples: Sample[] = await Promise.all(
      Array.from({ length: count }, (_, i) => dataset.get(start + i)),
    );
    const pixels = new Float32Array(count * P * 3);
    const truth = new Uint8Array(count * P);
    samples.forEach((s, b) => {
      pixels.set(s.image, b * P * 3);
      truth.set(s.label, b * P);
    });
    const images = tf.tensor4d(pixels, [count, H, W, 3]);
    let pred: Int32Array;
    try {
      pred = (await agent.act({ images, ids: samples.map((s) => s.id) }, 'greedy')).labels;
    } finally {
      images.dispose();
    }
    cm.add(pred, truth);
    perImage.addBatch(pred, truth, P);
    for (let b = 0; b < count && pictures.length < wantPictures; b++) {
      const s = samples[b];
      pictures.push({
        id: s.id,
        height: H,
        width: W,
        image: s.image,
        truth: s.label,
        prediction: Uint8Array.from(pred.subarray(b * P, (b + 1) * P)),
      });
    }
  }
  return {
    scores: cm.scores(),
    perImage: perImage.summary(),
    pictures,
    images: n,
    seconds: (performance.now() - started) / 1000,
  };
}

/** The flat metrics of an evaluation for `eval:end` (per-image means and spreads under `perImage/`). */
export function evaluationMetrics(r: EvaluationResult): Record<string, number> {
  const m: Record<string, number> = {
    meanF1: r.scores.meanF1,
    meanDice: r.scores.meanDice,
    mIoU: r.scores.mIoU,
    pixelAccuracy: r.scores.pixelAccuracy,
    images: r.images,
    seconds: r.seconds,
  };
  for (const [k, s] of Object.entries(r.perImage)) {
    m[`perImage/${k}/mean`] = s.mean;
    m[`perImage/${k}/std`] = s.std;
  }
  return m;
}

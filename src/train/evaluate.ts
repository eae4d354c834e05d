/**
 * Greedy evaluation of an agent on a held-out dataset, streamed in batches into one
 * confusion matrix (the LaPa protocol: scores from counts summed over the split), plus
 * per-image spread and a few (image, truth, prediction) triples for pictures.
 *
 * Resolution: with `resolution: 'native'` (the default) each image is scored at its label's
 * own size when the dataset has native labels (`Dataset.native`, folder sets opened with
 * `size`): the agent's logits are resized bilinearly to the label's size before the argmax
 * (resize-logits.ts), one image at a time. The same predictions are also scored against the
 * resized labels at the model's size (`modelSize`), when any label's size differs from it.
 * `'model'` scores at the model's size only (the trainer's periodic evaluations: cheaper).
 */
import * as tf from '@tensorflow/tfjs';
import type { Agent, Dataset, Observation, Sample } from '../core/types.js';
import { labelsAtSize, labelsNearest } from './resize-logits.js';
import {
  ConfusionMatrix,
  PerImageStats,
  type PerImageMetric,
  type Scores,
  type Spread,
} from '../metrics/index.js';
import { FLIP_PERMUTATION, IGNORE_INDEX, NUM_CLASSES } from '../core/classes.js';
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
  /** Score at each label's own size ('native', default) or at the model's input size ('model'). */
  resolution?: Resolution;
  /**
   * Flip test-time augmentation: average the logits of each image with those of its mirror
   * (mirrored back, left and right classes swapped). Needs an agent with `logits`. Default false.
   */
  flip?: boolean;
  /**
   * Added to every pixel's logits before the resize and the argmax: `-log(w_c)` for an agent
   * trained with class weights w (see {@link logitAdjustmentOf}). Needs an agent with `logits`.
   */
  logitBias?: readonly number[];
}

/**
 * The decision rule of a model trained with weighted cross-entropy on the unweighted pixels: its
 * optimum is q_c proportional to w_c p_c, so log p_c = log q_c - log w_c + const, and subtracting
 * log w_c from the logits gives the argmax of the pixel's own class probabilities (post-hoc logit
 * adjustment, Menon et al. 2021, with the class weights in place of the prior). No free parameter.
 * Undefined without class weights; a zero weight (a class never trained) is refused.
 */
export function logitAdjustmentOf(classWeights: readonly number[] | undefined, where: string): number[] | undefined {
  if (!classWeights) return undefined;
  return classWeights.map((w, c) => {
    if (!(w > 0)) {
      throw new FprlError(`class weight ${c} is ${w}: the logit adjustment divides by it`, {
        where,
        hint: 'give every class a positive weight, or evaluate without the logit adjustment',
      });
    }
    return -Math.log(w);
  });
}

/** Where a score was counted: at each label's own size, or at the model's input size. */
export type Resolution = 'native' | 'model';

/** Scores of the same predictions at the model's input size (labels resized nearest-neighbour to it). */
export interface ModelSizeScores {
  height: number;
  width: number;
  scores: Scores;
  perImage: Record<PerImageMetric, Spread>;
}

export interface EvaluationResult {
  /** At `resolution`. */
  scores: Scores;
  /** Per-image mean and spread of pixel accuracy, mean F1 and mIoU (at `resolution`). */
  perImage: Record<PerImageMetric, Spread>;
  /**
   * 'native': every image was scored at its label's own size (for a dataset without native
   * labels, such as synthetic faces, that is the model's size); 'model': at the model's size.
   */
  resolution: Resolution;
  /** Present when `resolution` is 'native' and some label's own size differs from the model's. */
  modelSize?: ModelSizeScores;
  /** Pictures are at the model's size. */
  pictures: Picture[];
  /** True when the logits were averaged with the mirrored image's (flip test-time augmentation). */
  flip: boolean;
  /** True when `logitBias` was added to the logits before the argmax (logit adjustment). */
  logitAdjusted: boolean;
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
  const resolution = opts.resolution ?? 'native';
  const flip = opts.flip ?? false;
  const bias = opts.logitBias;
  if (bias && (!agent.logits || bias.length !== C)) {
    throw new FprlError(
      agent.logits
        ? `the logit adjustment has ${bias.length} entries for ${C} classes`
        : `the logit adjustment needs an agent that gives logits; agent '${agent.name}' does not`,
      { where: 'evaluation.logitAdjustment', hint: 'turn the logit adjustment off for this agent' },
    );
  }
  if (flip && (!agent.logits || C !== FLIP_PERMUTATION.length)) {
    throw new FprlError(
      agent.logits
        ? `flip test-time augmentation swaps the ${FLIP_PERMUTATION.length} LaPa classes, not ${C}`
        : `flip test-time augmentation needs an agent that gives logits; agent '${agent.name}' does not`,
      { where: 'evaluation.flip', hint: 'turn flip off for this agent' },
    );
  }
  const nativeOf = resolution === 'native' ? dataset.native?.bind(dataset) : undefined;
  // At the model's size (the dataset's labels); at each label's own size when the dataset has them.
  const cm = new ConfusionMatrix(C, ignore, names);
  const perImage = new PerImageStats(C, ignore);
  const nativeCm = nativeOf ? new ConfusionMatrix(C, ignore, names) : undefined;
  const nativePerImage = nativeOf ? new PerImageStats(C, ignore) : undefined;
  let resized = false;
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
    const obs = { images, ids: samples.map((s) => s.id) };
    let pred: Int32Array;
    // Native scoring needs the logits (one forward pass: the model-size labels are their argmax).
    let logits: tf.Tensor4D | undefined;
    try {
      if (flip || bias || (nativeOf && agent.logits)) {
        logits = await decisionLogits(agent, obs, { flip, logitBias: bias });
        const am = tf.argMax(logits, -1);
        try {
          pred = Int32Array.from(am.dataSync() as Int32Array);
        } finally {
          am.dispose();
        }
      } else pred = (await agent.act(obs, 'greedy')).labels;
    } catch (e) {
      logits?.dispose();
      throw e;
    } finally {
      images.dispose();
    }
    try {
      cm.add(pred, truth);
      perImage.addBatch(pred, truth, P);
      // One native label at a time: read, count, drop.
      for (let b = 0; nativeOf && b < count; b++) {
        const own = await nativeOf(start + b);
        const modelPred = pred.subarray(b * P, (b + 1) * P);
        let nativePred: ArrayLike<number> = modelPred;
        if (own.height !== H || own.width !== W) {
          resized = true;
          nativePred = logits
            ? labelsAtSize(logits, b, own.height, own.width)
            : labelsNearest(modelPred, H, W, own.height, own.width);
        }
        nativeCm!.add(nativePred, own.label);
        nativePerImage!.add(nativePred, own.label);
      }
    } finally {
      logits?.dispose();
    }
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
  const atModel = { scores: cm.scores(), perImage: perImage.summary() };
  const head =
    nativeCm && nativePerImage ? { scores: nativeCm.scores(), perImage: nativePerImage.summary() } : atModel;
  return {
    ...head,
    resolution,
    ...(nativeCm && resized ? { modelSize: { height: H, width: W, ...atModel } } : {}),
    pictures,
    flip,
    logitAdjusted: bias !== undefined,
    images: n,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Logits of a batch averaged with those of its mirror image, mirrored back with the left and
 * right classes swapped (FLIP_PERMUTATION), so both passes vote for the same pixel and class.
 */
export async function flipAveragedLogits(
  agent: Agent,
  obs: Observation,
): Promise<tf.Tensor4D> {
  if (!agent.logits) {
    throw new FprlError(`flip test-time augmentation needs an agent that gives logits; agent '${agent.name}' does not`, {
      where: 'flip',
      hint: 'turn flip off for this agent',
    });
  }
  const own = await agent.logits(obs);
  let mirrored: tf.Tensor4D | undefined;
  const mirror = tf.reverse(obs.images, 2);
  try {
    mirrored = await agent.logits!({ ...obs, images: mirror });
    const m = mirrored;
    return tf.tidy(() => {
      const back = tf.gather(tf.reverse(m, 2), Array.from(FLIP_PERMUTATION), 3);
      return tf.mul(tf.add(own, back), 0.5) as tf.Tensor4D;
    });
  } finally {
    mirror.dispose();
    mirrored?.dispose();
    own.dispose();
  }
}

/**
 * The logits a decision is made on: the agent's own, or flip-averaged ({@link flipAveragedLogits}),
 * plus `logitBias` on every pixel when given (the logit adjustment). Evaluation and `fprl
 * predict` both decide on these. The caller disposes the tensor.
 */
export async function decisionLogits(
  agent: Agent,
  obs: Observation,
  opts: { flip?: boolean; logitBias?: readonly number[] } = {},
): Promise<tf.Tensor4D> {
  if (!agent.logits && !opts.flip) {
    // (flipAveragedLogits says the same for the flip.)
    throw new FprlError(`agent '${agent.name}' gives no logits to decide on`, {
      where: `agent '${agent.name}'`,
      hint: "decide with act(obs, 'greedy') instead",
    });
  }
  const logits = opts.flip ? await flipAveragedLogits(agent, obs) : await agent.logits!(obs);
  const bias = opts.logitBias;
  if (!bias) return logits;
  try {
    return tf.tidy(() => tf.add(logits, tf.tensor1d(Array.from(bias))) as tf.Tensor4D);
  } finally {
    logits.dispose();
  }
}

/** The flat metrics of an evaluation for `eval:end` (per-image means and spreads under `perImage/`). */
export function evaluationMetrics(r: EvaluationResult): Record<string, number> {
  return scoreMetrics(r, { images: r.images, seconds: r.seconds });
}

/**
 * The flat scores of split-level counts and per-image statistics (the headline's, or
 * `modelSize`'s): meanF1, meanDice, mIoU, pixelAccuracy, `extra`, then `perImage/<metric>/mean|std`.
 */
export function scoreMetrics(
  r: Pick<EvaluationResult, 'scores' | 'perImage'>,
  extra: Record<string, number> = {},
): Record<string, number> {
  const m: Record<string, number> = {
    meanF1: r.scores.meanF1,
    meanDice: r.scores.meanDice,
    mIoU: r.scores.mIoU,
    pixelAccuracy: r.scores.pixelAccuracy,
    ...extra,
  };
  for (const [k, s] of Object.entries(r.perImage)) {
    m[`perImage/${k}/mean`] = s.mean;
    m[`perImage/${k}/std`] = s.std;
  }
  return m;
}

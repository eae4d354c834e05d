/**
 * `fprl bench --preset`: the speed of the Face Transformer on the active backend. A training step
 * is what the PyTorch reference (../shared/peer/torch_vit_bench.py) times: forward, per-pixel
 * cross-entropy over 11 classes, backward, Adam. Inference is greedy prediction (argmax labels,
 * no gradient bookkeeping). Inputs are random images in [-1,1] and random labels, fixed per seed.
 */
import * as tf from '@tensorflow/tfjs';
import { FaceTransformer, resolveViTConfig } from '../../agents/vit/index.js';
import { Rng } from '../rng.js';
import { backendInfo } from '../backend.js';
import { machineLoad, round, timeIt } from './timing.js';

export interface ViTBenchOptions {
  /** A preset name (`seed`, `ti16-256`, `tiny-64`). */
  preset: string;
  batch: number;
  /** Timed training steps (and inference batches). */
  steps: number;
  /** Untimed steps first. Default 2 (the reference also runs 2). */
  warmup?: number;
  seed?: number;
  /** Adam learning rate. Default 1e-3 (as the reference). */
  learningRate?: number;
  /** Progress lines (the command sends them to stderr). */
  onProgress?: (msg: string) => void;
}

export interface ViTBenchResult {
  backend: string;
  /** Threads the backend computes with. */
  threads: number;
  preset: string;
  batch: number;
  params: number;
  steps: number;
  trainMsPerStep: number;
  trainImagesPerSecond: number;
  inferMsPerBatch: number;
  inferImagesPerSecond: number;
  tensorsLeakedPerStep: number;
  /** Where a training step's time goes (mean ms): forward + loss, backward, Adam update. */
  phases: { forwardMs: number; backwardMs: number; optimizerMs: number };
  /** CPU ms of this process per training step; well above trainMsPerStep means other load. */
  trainCpuMsPerStep: number;
  loadAverage1m: number;
  cores: number;
  tfjs: string;
}

/** Random images [B,S,S,3] in [-1,1) and one-hot targets [B,S,S,C] for random labels. */
function makeBatch(
  batch: number,
  size: number,
  classes: number,
  rng: Rng,
): { images: tf.Tensor4D; targets: tf.Tensor4D } {
  const pixels = batch * size * size;
  const img = new Float32Array(pixels * 3);
  for (let i = 0; i < img.length; i++) img[i] = rng.uniform(-1, 1);
  const onehot = new Float32Array(pixels * classes);
  for (let p = 0; p < pixels; p++) onehot[p * classes + rng.int(0, classes)] = 1;
  return {
    images: tf.tensor4d(img, [batch, size, size, 3]),
    targets: tf.tensor4d(onehot, [batch, size, size, classes]),
  };
}

/** Mean per-pixel cross-entropy of logits [B,S,S,C] against one-hot targets of the same shape. */
export function pixelCrossEntropy(logits: tf.Tensor4D, targets: tf.Tensor4D): tf.Scalar {
  const pixels = logits.size / logits.shape[3];
  return tf.div(tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits)))), pixels) as tf.Scalar;
}

/** Build the model, time training steps, phases and inference; leaves no tensors behind. */
export async function benchViT(opts: ViTBenchOptions): Promise<ViTBenchResult> {
  const config = resolveViTConfig(opts.preset);
  const rng = new Rng(opts.seed ?? 0, 'bench');
  const progress = opts.onProgress ?? (() => {});
  const warmup = opts.warmup ?? 2;
  const model = new FaceTransformer(config, rng.fork('model'));
  const { images, targets } = makeBatch(opts.batch, config.imageSize, config.numClasses, rng.fork('data'));
  const optimizer = tf.train.adam(opts.learningRate ?? 1e-3);
  const dropoutRng = rng.fork('dropout');
  const vars = model.trainableVariables;
  const loss = () =>
    pixelCrossEntropy(model.apply(images, { training: true, rng: dropoutRng }).logits, targets);

  let fbMs = 0;
  let optMs = 0;
  const step = () => {
    const t0 = performance.now();
    const { value, grads } = tf.variableGrads(loss, vars);
    const t1 = performance.now();
    optimizer.applyGradients(grads as Parameters<typeof optimizer.applyGradients>[0]);
    const t2 = performance.now();
    tf.dispose([value, ...Object.values(grads)]);
    fbMs += t1 - t0;
    optMs += t2 - t1;
  };

  try {
    progress(
      `${opts.preset} batch ${opts.batch}: ${model.countParams().toLocaleString('en')} parameters, ${warmup} warm-up steps`,
    );
    for (let i = 0; i < warmup; i++) step();
    fbMs = 0;
    optMs = 0;
    const before = tf.memory().numTensors;
    progress(`timing ${opts.steps} training steps`);
    const train = await timeIt(step, { warmup: 0, minRuns: opts.steps, maxRuns: opts.steps });
    const leaked = (tf.memory().numTensors - before) / opts.steps;

    progress('timing forward + loss without gradients');
    const forward = await timeIt(() => tf.tidy(() => loss().dataSync()), {
      warmup: 1,
      minRuns: Math.min(3, opts.steps),
    });

    progress(`timing ${opts.steps} inference batches`);
    const infer = await timeIt(() => model.predict(images), {
      warmup: 1,
      minRuns: opts.steps,
      maxRuns: opts.steps,
    });

    const info = backendInfo();
    return {
      backend: tf.getBackend(),
      threads: info?.threads ?? 1,
      preset: opts.preset,
      batch: opts.batch,
      params: model.countParams(),
      steps: opts.steps,
      trainMsPerStep: round(train.wallMs, 1),
      trainImagesPerSecond: round((opts.batch * 1000) / train.wallMs),
      inferMsPerBatch: round(infer.wallMs, 1),
      inferImagesPerSecond: round((opts.batch * 1000) / infer.wallMs),
      tensorsLeakedPerStep: leaked,
      phases: {
        forwardMs: round(forward.wallMs, 1),
        backwardMs: round(Math.max(0, fbMs / opts.steps - forward.wallMs), 1),
        optimizerMs: round(optMs / opts.steps, 1),
      },
      trainCpuMsPerStep: round(train.cpuMs, 1),
      ...machineLoad(),
      tfjs: tf.version.tfjs,
    };
  } finally {
    tf.dispose([images, targets]);
    optimizer.dispose();
    model.dispose();
  }
}

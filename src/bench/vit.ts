/**
 * `fprl bench --preset`: the speed of a Face Transformer preset (any kind: `vit` or `hybrid`,
 * agents/vit/presets.ts, built through the policy-network registry) on the active backend. A training step
 * is what the PyTorch references (../shared/peer/torch_vit_bench.py, ./torch_hybrid_bench.py) time: forward, per-pixel
 * cross-entropy over 11 classes, backward, Adam. Inference is greedy prediction (argmax labels,
 * no gradient bookkeeping). Inputs are random images in [-1,1] and random labels, fixed per seed.
 */
import * as tf from '@tensorflow/tfjs';
import { resolveModelPreset } from '../../agents/vit/presets.js';
import { buildPolicyNet } from '../../agents/nets/registry.js';
import type { PolicyNet } from '../core/types.js';
import { Rng } from '../core/rng.js';
import { backendInfo } from '../backend/backend.js';
import { describeMatMul } from '../native/index.js';
import { machineLoad, round, timeIt } from './timing.js';
import { DataParallel } from '../parallel/pool.js';
import { ThreadTuner } from '../parallel/tune.js';
import { createOptimizer, type Optimizer } from '../optim/optimizers.js';
import { resolveTrainingConfig } from '../optim/config.js';
import { fusedPolicyTerms } from '../parallel/loss.js';
import { canFuse, FUSED } from '../native/fused.js';

export interface ViTBenchOptions {
  /** A preset name (`seed`, `ti16-256`, `tiny-64`, `hybrid-128`, `hybrid-256`). */
  preset: string;
  batch: number;
  /** Timed training steps (and inference batches). */
  steps: number;
  /** Untimed steps first. Default 2 (the reference also runs 2). */
  warmup?: number;
  seed?: number;
  /** Adam learning rate. Default 1e-3 (as the reference). */
  learningRate?: number;
  /**
   * Also time data-parallel training and inference on this many threads (src/parallel/: the main
   * thread plus threads-1 workers, each with its share of the batch). 1 or absent: single only.
   */
  threads?: number;
  /**
   * Also time this many training steps of the default `fprl run` pool (threads > 1): all
   * `threads` shards, `adaptStart` of them computing at first, the count moved by a ThreadTuner
   * probing every 6 steps (a run probes every 30-240). 0 or absent: not timed.
   */
  adaptSteps?: number;
  /** Threads computing at the start of the adaptive steps (default: `threads`). */
  adaptStart?: number;
  /** Progress lines (the command sends them to stderr). */
  onProgress?: (msg: string) => void;
}

export interface ViTBenchResult {
  backend: string;
  /** What ran the matMuls on wasm (native AVX2 or XNNPACK, see src/native/). */
  matMul?: string;
  /** Threads the backend computes with. */
  threads: number;
  preset: string;
  batch: number;
  /** The network kind in the policy-network registry (`vit`, `hybrid`). */
  kind: string;
  params: number;
  /** Forward FLOPs per image (agents/vit/flops.ts, hybrid-config.ts: 2 per multiply-add). */
  forwardGflopsPerImage: number;
  /** Training FLOP rate reached, counting a step as 3x its forward FLOPs (forward + backward). */
  trainGflopsPerSecond: number;
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
  /** Percent of the cores' time the hypervisor gave to other machines while training was timed (Linux). */
  trainStealPercent?: number;
  loadAverage1m: number;
  cores: number;
  tfjs: string;
  /** The same step and inference data-parallel on `threads` threads (when asked for). */
  parallel?: ParallelBenchResult;
}

export interface ParallelBenchResult {
  threads: number;
  trainMsPerStep: number;
  trainImagesPerSecond: number;
  inferMsPerBatch: number;
  inferImagesPerSecond: number;
  /** Mean ms per step: gradients on all shards (with weight broadcast and the sum), Adam. */
  phases: { gradientsMs: number; optimizerMs: number };
  /** Over the single-thread figures. */
  trainSpeedup: number;
  inferSpeedup: number;
  trainCpuMsPerStep: number;
  trainStealPercent?: number;
  loadAverage1m: number;
  /** The default pool's training, adapting its active threads (when asked for). */
  adaptive?: AdaptiveBenchResult;
}

export interface AdaptiveBenchResult {
  steps: number;
  start: number;
  trainMsPerStep: number;
  trainImagesPerSecond: number;
  /** Threads computing in each timed step, in order. */
  threadsPerStep: number[];
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

/**
 * Mean per-pixel cross-entropy of logits [B,S,S,C] against one-hot targets of the same shape: the
 * training loss's policy term (src/parallel/loss.ts), on the fused kernel where it runs.
 */
export function pixelCrossEntropy(logits: tf.Tensor4D, targets: tf.Tensor4D): tf.Scalar {
  const pixels = logits.size / logits.shape[3];
  if (canFuse(FUSED.pixelLoss) && logits.dtype === 'float32') {
    const { policyTerm, entropy } = fusedPolicyTerms(logits, targets, pixels);
    entropy.dispose();
    return policyTerm;
  }
  return tf.div(tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits)))), pixels) as tf.Scalar;
}

/** Greedy labels of a batch (argmax per pixel), no tensors left behind. */
function greedy(model: PolicyNet, images: tf.Tensor4D): Int32Array {
  const labels = tf.tidy(() => tf.argMax(model.apply(images).logits, -1));
  const out = labels.dataSync() as Int32Array;
  labels.dispose();
  return out;
}

/** Build the model, time training steps, phases and inference; leaves no tensors behind. */
export async function benchViT(opts: ViTBenchOptions): Promise<ViTBenchResult> {
  const preset = resolveModelPreset(opts.preset);
  const rng = new Rng(opts.seed ?? 0, 'bench');
  const progress = opts.onProgress ?? (() => {});
  const warmup = opts.warmup ?? 2;
  const model = buildPolicyNet({ kind: preset.kind, config: preset.config }, rng.fork('model'));
  const params = model.trainableVariables.reduce((n, v) => n + v.size, 0);
  const { images, targets } = makeBatch(opts.batch, preset.imageSize, preset.numClasses, rng.fork('data'));
  // The project's Adam (what `fprl run` trains with; fused on wasm with the native addon).
  const optimizer = createOptimizer(
    resolveTrainingConfig({ optimizer: { name: 'adam', lr: opts.learningRate ?? 1e-3 } }).optimizer,
  );
  const lr = optimizer.config.lr;
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
    optimizer.apply(
      vars,
      vars.map((v) => grads[v.name]),
      lr,
    );
    const t2 = performance.now();
    tf.dispose([value, ...Object.values(grads)]);
    fbMs += t1 - t0;
    optMs += t2 - t1;
  };

  try {
    progress(
      `${opts.preset} (${preset.kind}) batch ${opts.batch}: ${params.toLocaleString('en')} parameters, ` +
        `${(preset.flopsPerImage / 1e9).toFixed(3)} GFLOPs per image forward, ${warmup} warm-up steps`,
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
    const infer = await timeIt(() => greedy(model, images), {
      warmup: 1,
      minRuns: opts.steps,
      maxRuns: opts.steps,
    });

    const parallel =
      opts.threads && opts.threads > 1
        ? await benchParallel(model, images, targets, optimizer, lr, opts.threads, dropoutRng, opts, progress)
        : undefined;
    const info = backendInfo();
    const trainIps = (opts.batch * 1000) / train.wallMs;
    const inferIps = (opts.batch * 1000) / infer.wallMs;
    if (parallel) {
      parallel.trainSpeedup = round(parallel.trainImagesPerSecond / trainIps);
      parallel.inferSpeedup = round(parallel.inferImagesPerSecond / inferIps);
    }
    return {
      backend: tf.getBackend(),
      ...(tf.getBackend() === 'wasm' ? { matMul: describeMatMul() } : {}),
      threads: info?.threads ?? 1,
      preset: opts.preset,
      batch: opts.batch,
      kind: preset.kind,
      params,
      forwardGflopsPerImage: round(preset.flopsPerImage / 1e9, 3),
      trainGflopsPerSecond: round((3 * preset.flopsPerImage * opts.batch) / 1e6 / train.wallMs, 1),
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
      ...(train.stealPercent !== undefined ? { trainStealPercent: train.stealPercent } : {}),
      ...machineLoad(),
      tfjs: tf.version.tfjs,
      ...(parallel ? { parallel } : {}),
    };
  } finally {
    tf.dispose([images, targets]);
    optimizer.dispose();
    model.dispose();
  }
}

/**
 * The training step and inference of {@link benchViT} on a data-parallel pool: the same loss
 * (mean per-pixel cross-entropy is the pixel loss with W = one-hot targets and scale 1/pixels),
 * gradients summed over the shards, one Adam update on the main thread.
 */
async function benchParallel(
  model: PolicyNet,
  images: tf.Tensor4D,
  targets: tf.Tensor4D,
  optimizer: Optimizer,
  lr: number,
  threads: number,
  dropoutRng: Rng,
  opts: ViTBenchOptions,
  progress: (msg: string) => void,
): Promise<ParallelBenchResult> {
  progress(`starting ${threads - 1} worker thread${threads > 2 ? 's' : ''} for data-parallel training`);
  const pool = await DataParallel.create(model, threads);
  const vars = model.trainableVariables;
  const W = targets.dataSync() as Float32Array;
  const [B, H, Wd] = images.shape;
  const spec = { weights: W, normalizer: B * H * Wd, dropout: dropoutRng };
  let version = 0;
  let gradMs = 0;
  let optMs = 0;
  const step = async () => {
    const t0 = performance.now();
    const r = await pool.gradients(model, images, spec, version);
    const t1 = performance.now();
    optimizer.apply(vars, r.grads, lr);
    version++;
    tf.dispose(r.grads);
    gradMs += t1 - t0;
    optMs += performance.now() - t1;
  };
  try {
    const warmup = opts.warmup ?? 2;
    for (let i = 0; i < warmup; i++) await step();
    gradMs = 0;
    optMs = 0;
    progress(`timing ${opts.steps} training steps on ${threads} threads`);
    const train = await timeIt(step, { warmup: 0, minRuns: opts.steps, maxRuns: opts.steps });
    progress(`timing ${opts.steps} inference batches on ${threads} threads`);
    const infer = await timeIt(() => pool.greedy(model, images, version), {
      warmup: 1,
      minRuns: opts.steps,
      maxRuns: opts.steps,
    });
    // The fixed-count phases, before the adaptive steps add to the same counters.
    const phases = { gradientsMs: round(gradMs / opts.steps, 1), optimizerMs: round(optMs / opts.steps, 1) };
    let adaptive: AdaptiveBenchResult | undefined;
    const adaptSteps = opts.adaptSteps ?? 0;
    if (adaptSteps > 0) {
      const start = Math.min(threads, Math.max(1, opts.adaptStart ?? threads));
      progress(`timing ${adaptSteps} training steps of the default pool (adaptive, starting at ${start})`);
      const tuner = new ThreadTuner({ max: threads, start, period: 6, probe: 2 });
      pool.setActive(start);
      const used: number[] = [];
      const t0 = performance.now();
      for (let i = 0; i < adaptSteps; i++) {
        const a = performance.now();
        used.push(pool.active);
        await step();
        pool.setActive(tuner.record(performance.now() - a));
      }
      const ms = (performance.now() - t0) / adaptSteps;
      adaptive = {
        steps: adaptSteps,
        start,
        trainMsPerStep: round(ms, 1),
        trainImagesPerSecond: round((opts.batch * 1000) / ms),
        threadsPerStep: used,
      };
    }
    return {
      ...(adaptive ? { adaptive } : {}),
      threads,
      trainMsPerStep: round(train.wallMs, 1),
      trainImagesPerSecond: round((opts.batch * 1000) / train.wallMs),
      inferMsPerBatch: round(infer.wallMs, 1),
      inferImagesPerSecond: round((opts.batch * 1000) / infer.wallMs),
      phases,
      trainSpeedup: 0,
      inferSpeedup: 0,
      // All threads of this process (workers are threads, so process.cpuUsage counts them).
      trainCpuMsPerStep: round(train.cpuMs, 1),
      ...(train.stealPercent !== undefined ? { trainStealPercent: train.stealPercent } : {}),
      loadAverage1m: machineLoad().loadAverage1m,
    };
  } finally {
    await pool.dispose();
  }
}

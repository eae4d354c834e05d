/**
 * Memory a Face Transformer needs, estimated from its config before anything is allocated, so a
 * config whose attention matrix or batch cannot fit is refused at load with the field named (not
 * by the allocator mid-run). tfjs keeps every intermediate of the forward pass for the backward
 * pass, so a training step's peak is about
 *
 *   STATE_COPIES * parameters  +  batch * (per-image activations)
 *
 * with per-image activations a weighted sum of four sizes (float32 each):
 *   - attention: depth * heads * T^2 (scores, softmax, dropout mask and their gradients),
 *   - tokens: depth * T * (D + M) (norms, q/k/v, MLP hidden, residuals),
 *   - pixels: S^2 * C (logits, log-softmax, the loss and their gradients),
 *   - conv maps (hybrid): every stem map and every decoder stage's inputs and output.
 *
 * The weights were fitted to `tf.profile` peak bytes of a cross-entropy training step on the cpu
 * backend (tiny-64 at 64 and 128 px with patches 4 and 8, ti16-256 at 64 and 128 px, seed at 128
 * px, hybrid-128 at 32, 64 and 128 px; 2026-12-02) and rounded up: the estimate is 0.9-1.3x the
 * measured peak (test/agents/memory.test.ts measures it again). No library estimates tfjs memory;
 * a dry run would allocate what we want to refuse.
 */
import { numTokens, type ViTConfig } from './config.js';
import { decoderStages, hybridTokens, type HybridConfig } from './hybrid-config.js';
import { hybridParamSpecs } from './hybrid-net.js';
import { paramSpecs, sizeOf, type ParamSpec } from './params.js';

const BYTES = 4;
/** Weights, gradients, Adam's two moments and the transient gradient sums: 4.5 measured + 2. */
const STATE_COPIES = 7;
/** Floats kept per element of each size (fitted, see above). */
const PER_ATTENTION = 9;
const PER_TOKEN = 31;
const PER_PIXEL_CLASS = 23;
const PER_CONV = 8;
/** Inference keeps no tape: a few tensors of the largest layer at a time. */
const EVAL_LIVE = 3;

export interface MemoryEstimate {
  /** Tokens per image. */
  tokens: number;
  /** Pixels per image (S^2). */
  pixels: number;
  /** Trainable parameters (float32). */
  params: number;
  /** Bytes of one attention score matrix of one image, all heads of one block. */
  attentionBytes: number;
  /** Bytes that do not grow with the batch during training (weights, gradients, optimiser). */
  stateBytes: number;
  /** Bytes one more image adds to a training step's peak. */
  trainBytesPerImage: number;
  /** Bytes one more image adds to an evaluation (forward only) batch's peak. */
  evalBytesPerImage: number;
}

/** Training step of `batch` images with `samples` actions sampled per pixel (REINFORCE's k). */
export function trainingStepBytes(e: MemoryEstimate, batch: number, samples = 1): number {
  return e.stateBytes + batch * (e.trainBytesPerImage + (samples > 1 ? samplingBytes(e, samples) : 0));
}

/** Forward-only batch (evaluation, prediction). */
export function evalBatchBytes(e: MemoryEstimate, batch: number): number {
  return e.params * BYTES + batch * e.evalBytesPerImage;
}

/** Extra per image for k sampled label maps: actions, their log-probabilities, rewards, credit. */
function samplingBytes(e: MemoryEstimate, samples: number): number {
  return e.pixels * samples * 6 * BYTES;
}

/** The estimate for a policy network of kind `vit` or `hybrid`; undefined for other kinds. */
export function estimateMemory(arch: { kind: string; config: unknown }): MemoryEstimate | undefined {
  const count = (specs: ParamSpec[]) => specs.reduce((n, s) => n + sizeOf(s.shape), 0);
  if (arch.kind === 'vit') {
    const c = arch.config as ViTConfig;
    return vitMemory(c, count(paramSpecs(c)));
  }
  if (arch.kind === 'hybrid') {
    const c = arch.config as HybridConfig;
    return hybridMemory(c, count(hybridParamSpecs(c)));
  }
  return undefined;
}

/** The two encoders differ only in their tokens and the hybrid's conv maps (floats per image). */
interface Shape {
  tokens: number;
  imageSize: number;
  numClasses: number;
  depth: number;
  heads: number;
  dim: number;
  mlpDim: number;
  /** Every conv map kept for the backward pass (hybrid stem and decoder), 0 for the plain ViT. */
  convMaps: number;
  /** The largest input of one convolution (its im2col buffer is 9x it), 0 for the plain ViT. */
  largestConvInput: number;
}

function estimate(s: Shape, params: number): MemoryEstimate {
  const t = s.tokens;
  const pixels = s.imageSize * s.imageSize;
  const attention = s.depth * s.heads * t * t;
  const tokens = s.depth * t * (s.dim + s.mlpDim);
  const train =
    PER_ATTENTION * attention +
    PER_TOKEN * tokens +
    PER_CONV * s.convMaps +
    PER_PIXEL_CLASS * pixels * s.numClasses;
  const evalLive = Math.max(
    s.heads * t * t,
    t * Math.max(s.dim, s.mlpDim),
    9 * s.largestConvInput,
    pixels * s.numClasses,
  );
  return {
    tokens: t,
    params,
    pixels,
    attentionBytes: s.heads * t * t * BYTES,
    stateBytes: STATE_COPIES * params * BYTES,
    trainBytesPerImage: train * BYTES,
    evalBytesPerImage: EVAL_LIVE * evalLive * BYTES,
  };
}

function vitMemory(c: ViTConfig, params: number): MemoryEstimate {
  return estimate({ ...c, tokens: numTokens(c), convMaps: 0, largestConvInput: 0 }, params);
}

function hybridMemory(c: HybridConfig, params: number): MemoryEstimate {
  let convMaps = 0;
  let largestConvInput = 0;
  let side = c.imageSize;
  let cin = 3;
  for (const ch of c.stemChannels) {
    largestConvInput = Math.max(largestConvInput, side * side * cin);
    side /= 2;
    convMaps += side * side * ch;
    cin = ch;
  }
  for (const s of decoderStages(c)) {
    const area = s.size * s.size;
    convMaps += area * (s.upChannels + s.skipChannels + s.outChannels);
    largestConvInput = Math.max(largestConvInput, area * (s.upChannels + s.skipChannels));
  }
  return estimate({ ...c, tokens: hybridTokens(c), convMaps, largestConvInput }, params);
}

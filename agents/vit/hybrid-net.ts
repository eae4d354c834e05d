/**
 * The hybrid Face Transformer: a ViT for dense prediction (ViT-Hybrid / TransUNet style), kind
 * `hybrid` in the policy-network registry. images [B,S,S,3] -> logits [B,S,S,C]:
 *
 *   stem     conv3x3 s2 + LN + ReLU per stage (3->32->64->128: maps at 1/2, 1/4, 1/8, kept)
 *   embed    patch_embed (= conv k=s=P on the last stem map) -> tokens [B*T, D] at 1/16 (+ pos_embed)
 *   encoder  depth x encoder block (agents/vit/block.ts), final LayerNorm  -> pooled [B, D]
 *   decoder  per stage: nearest x2, concat the stem map of that resolution (the image at full
 *            resolution), conv3x3 + LN + ReLU (128, 64, 32, 16 channels)
 *   head     1x1 conv (a dense layer on the pixels) -> 11 classes
 *
 * The norms are channel LayerNorms (stateless: no running statistics, so save/load, data-parallel
 * replicas and evaluation need nothing beyond the variables). Convolutions followed by a norm have
 * no bias (the norm's beta is one). Same parameter count and layers as
 * src/bench/torch_hybrid_bench.py. Variables and checkpoint: agents/vit/README.md.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../../src/core/rng.js';
import { encoderBlock, type BlockShape } from './block.js';
import type { CheckpointKind } from './checkpoint-format.js';
import { channelNorm, conv3x3, upsample2x } from './conv-ops.js';
import {
  HYBRID_ARCH_FIELDS,
  decoderStages,
  hybridFlops,
  hybridStride,
  hybridTokens,
  validateHybridConfig,
  type HybridConfig,
} from './hybrid-config.js';
import { dense, dropout, layerNorm, patchify, tokenMeans } from './ops.js';
import { blockParamSpecs, type Init, type ParamSpec } from './params.js';
import { NamedVariableNet, type ApplyOptions, type NetKind } from './net.js';

/** The kind in the registry and in model.json's `userDefinedMetadata.kind`. */
export const HYBRID_KIND = 'hybrid';

export const HYBRID_CHECKPOINT: CheckpointKind<HybridConfig> = {
  kind: HYBRID_KIND,
  validate: validateHybridConfig,
};

/** Every variable of a hybrid config, in a fixed order (of `trainableVariables` and weights.bin). */
export function hybridParamSpecs(c: HybridConfig): ParamSpec[] {
  const { patchSize: P, dim: D, mlpDim: M, numClasses: C } = c;
  const zeros: Init = { kind: 'zeros' };
  const ones: Init = { kind: 'ones' };
  const torch = c.init === 'pytorch';
  // PyTorch's Conv2d / Linear default for weight and bias: uniform +-1/sqrt(fan_in).
  const fanIn = (n: number): Init => ({ kind: 'conv', fanIn: n });
  const conv = (name: string, k: number, cin: number, cout: number): ParamSpec[] => [
    { name: `${name}/conv/kernel`, shape: [k, k, cin, cout], init: { kind: 'conv', fanIn: k * k * cin } },
    { name: `${name}/norm/gamma`, shape: [cout], init: ones },
    { name: `${name}/norm/beta`, shape: [cout], init: zeros },
  ];
  const specs: ParamSpec[] = [];
  let cin = 3;
  c.stemChannels.forEach((cout, i) => {
    specs.push(...conv(`stem/${i}`, 3, cin, cout));
    cin = cout;
  });
  specs.push(
    { name: 'patch_embed/kernel', shape: [P, P, cin, D], init: { kind: 'conv', fanIn: P * P * cin } },
    { name: 'patch_embed/bias', shape: [D], init: torch ? fanIn(P * P * cin) : zeros },
  );
  if (c.posEmbedding)
    specs.push({ name: 'pos_embed', shape: [hybridTokens(c), D], init: torch ? zeros : { kind: 'trunc', std: 0.02 } });
  for (let i = 0; i < c.depth; i++) specs.push(...blockParamSpecs(i, D, M, torch ? 'pytorch' : 'vit'));
  specs.push({ name: 'norm/gamma', shape: [D], init: ones }, { name: 'norm/beta', shape: [D], init: zeros });
  decoderStages(c).forEach((s, j) =>
    specs.push(...conv(`decoder/${j}`, 3, s.upChannels + s.skipChannels, s.outChannels)),
  );
  const last = c.decoderChannels[c.decoderChannels.length - 1];
  specs.push(
    // 'vit': a small head (as the ViT's), a near-uniform initial policy; 'pytorch': a 1x1 conv's default.
    { name: 'head/kernel', shape: [last, C], init: torch ? fanIn(last) : { kind: 'trunc', std: 0.02 } },
    { name: 'head/bias', shape: [C], init: torch ? fanIn(last) : zeros },
  );
  return specs;
}

export const HYBRID: NetKind<HybridConfig> = {
  label: 'HybridFaceTransformer',
  checkpoint: HYBRID_CHECKPOINT,
  validate: (c) => validateHybridConfig(c),
  initStream: 'hybrid/init',
  archFields: HYBRID_ARCH_FIELDS,
  sizeHint: (c, h) => {
    const s = c.imageSize;
    const stride = hybridStride(c);
    return (
      `resize the data to ${s}x${s} (dataset size option) or build the model with imageSize ${h}` +
      (h % stride === 0 ? '' : ` rounded to a multiple of ${stride} (the model's stride)`)
    );
  },
};

/** The hybrid's computation, without files (the browser page runs it); Node code uses {@link HybridFaceTransformer} (./hybrid.ts). */
export class HybridNet extends NamedVariableNet<HybridConfig> {
  /**
   * Fresh weights drawn from `rng` (each variable from `rng.fork('hybrid/init').fork(name)`), or
   * `weights` by documented name (the caller keeps ownership of those tensors).
   */
  constructor(config: HybridConfig, rng: Rng, weights?: tf.NamedTensorMap) {
    super(HYBRID, config, hybridParamSpecs, rng, weights);
  }

  /** Forward FLOPs per image (see hybridFlops). */
  flopsPerImage(): number {
    return hybridFlops(this.config);
  }

  /** conv3x3 (no bias) + channel LayerNorm + ReLU. */
  private convNormRelu(x: tf.Tensor4D, name: string, stride: 1 | 2): tf.Tensor4D {
    const y = conv3x3(x, this.v(`${name}/conv/kernel`), stride);
    return tf.relu(channelNorm(y, this.v(`${name}/norm/gamma`), this.v(`${name}/norm/beta`)));
  }

  /**
   * images [B,S,S,3] -> logits [B,S,S,C] and pooled [B,D] (mean of the encoder's final tokens
   * after its final LayerNorm, for value heads). Dropout only when `training` (seeded by `rng`).
   */
  apply(images: tf.Tensor4D, opts: ApplyOptions = {}): { logits: tf.Tensor4D; pooled: tf.Tensor2D } {
    this.checkImages(images, 'HybridFaceTransformer.apply');
    const c = this.config;
    const rng = this.dropoutStream(opts);
    const b = images.shape[0];
    const t = hybridTokens(c);
    const g = Math.sqrt(t);
    const p = c.patchSize;
    const d = c.dim;
    const shape: BlockShape = {
      batch: b,
      tokens: t,
      heads: c.heads,
      normFirst: c.normFirst,
      dropout: c.dropout,
    };
    return tf.tidy(() => {
      // Stem: maps [image, 1/2, 1/4, ...], kept for the decoder's skips.
      const maps: tf.Tensor4D[] = [images];
      c.stemChannels.forEach((_, i) => maps.push(this.convNormRelu(maps[maps.length - 1], `stem/${i}`, 2)));
      const last = maps[maps.length - 1];
      const cs = last.shape[3];
      const embed = tf.reshape(this.v('patch_embed/kernel'), [p * p * cs, d]) as tf.Tensor2D;
      let x = dense(patchify(last, p), embed, this.v('patch_embed/bias')); // [B*T, D]
      if (c.posEmbedding) x = tf.reshape(tf.add(tf.reshape(x, [b, t, d]), this.v('pos_embed')), [b * t, d]);
      x = dropout(x, c.embDropout, rng);
      for (let i = 0; i < c.depth; i++) x = encoderBlock(x, this.blockWeights(i), shape, rng);
      x = layerNorm(x, this.v('norm/gamma'), this.v('norm/beta'));
      const pooled = tokenMeans(x, b);
      // Decoder: x2 per stage, fusing the stem map of each resolution.
      let y = tf.reshape(x, [b, g, g, d]) as tf.Tensor4D;
      decoderStages(c).forEach((s, j) => {
        const up = upsample2x(y);
        const fused = s.skip === -1 ? up : tf.concat([up, maps[s.skip]], 3);
        y = this.convNormRelu(fused, `decoder/${j}`, 1);
      });
      const [, side, , cd] = y.shape;
      const pixels = dense(tf.reshape(y, [b * side * side, cd]), this.v('head/kernel'), this.v('head/bias'));
      const logits = tf.reshape(pixels, [b, side, side, c.numClasses]) as tf.Tensor4D;
      return { logits, pooled };
    });
  }
}

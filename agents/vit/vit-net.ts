/**
 * The Face Transformer: a ViT segmenter mapping images [B,S,S,3] to per-pixel logits [B,S,S,C].
 *
 *   patches [B*T, P*P*3] --patch_embed (= conv k=s=P)--> tokens [B*T, D] (+ pos_embed, dropout)
 *   --depth x encoder block--> final LayerNorm --proj (= 1x1 conv on the patch grid)-->
 *   --head (= transposed conv k=s=P)--> logits [B,S,S,C]
 *
 * Tokens stay 2-D [B*T, D] throughout, so every dense layer is one plain matMul; the conv layers
 * are reshape/transpose + matMul (identical numbers, and differentiable on wasm). Parameter count
 * equals PyTorch's for the same architecture (../shared/peer/torch_vit_bench.py).
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../../src/core/rng.js';
import { encoderBlock, type BlockShape } from './block.js';
import { VIT_CHECKPOINT } from './checkpoint-format.js';
import { ARCH_FIELDS, LAYER_NORM_EPS, numTokens, validateViTConfig, type ViTConfig } from './config.js';
import { NamedVariableNet, type ApplyOptions, type NetKind } from './net.js';
import { dense, dropout, layerNormEps, patchify, pixelHead, tokenMeans } from './ops.js';
import { paramSpecs } from './params.js';

export type { ApplyOptions, PredictOptions } from './net.js';

/** A field's value, the default written out for the optional ones (relu, 1e-5). */
function archValue(c: ViTConfig, k: keyof ViTConfig): string {
  if (k === 'mlpActivation') return c.mlpActivation ?? 'relu';
  if (k === 'layerNormEps') return String(c.layerNormEps ?? LAYER_NORM_EPS);
  return String(c[k]);
}

export const VIT: NetKind<ViTConfig> = {
  label: 'FaceTransformer',
  checkpoint: VIT_CHECKPOINT,
  validate: (c) => validateViTConfig(c),
  initStream: 'vit/init',
  archFields: ARCH_FIELDS,
  archValue,
  sizeHint: (c, h) =>
    `resize the data to ${c.imageSize}x${c.imageSize} (dataset size option) or choose a config with imageSize ${h}`,
};

/**
 * The Face Transformer's computation, without files: what the browser page runs. Node code uses
 * {@link FaceTransformer} (./model.ts), this class with save, loadWeightsFrom and load.
 */
export class ViTNet extends NamedVariableNet<ViTConfig> {
  /**
   * Build a model with fresh weights drawn from `rng` (each variable from its own forked stream).
   * `weights`, by documented name, gives initial values instead (e.g. from a checkpoint; `rng`
   * then goes unused); the caller keeps ownership of those tensors.
   */
  constructor(config: ViTConfig, rng: Rng, weights?: tf.NamedTensorMap) {
    super(VIT, config, paramSpecs, rng, weights);
  }

  /**
   * images [B,S,S,3] -> logits [B,S,S,C] and pooled [B,D] (mean of the final tokens after the
   * final LayerNorm, for value heads). Dropout only when `training` (seeded by `rng`).
   */
  apply(images: tf.Tensor4D, opts: ApplyOptions = {}): { logits: tf.Tensor4D; pooled: tf.Tensor2D } {
    this.checkImages(images, 'FaceTransformer.apply');
    const c = this.config;
    const rng = this.dropoutStream(opts);
    const b = images.shape[0];
    const t = numTokens(c);
    const g = c.imageSize / c.patchSize;
    const p = c.patchSize;
    const d = c.dim;
    const shape: BlockShape = {
      batch: b,
      tokens: t,
      heads: c.heads,
      normFirst: c.normFirst,
      dropout: c.dropout,
      mlpActivation: c.mlpActivation,
      layerNormEps: c.layerNormEps,
    };
    return tf.tidy(() => {
      const patchKernel = tf.reshape(this.v('patch_embed/kernel'), [p * p * 3, d]) as tf.Tensor2D;
      // Plain matMul, not dense(): the fused op's gradient always computes d(images) too.
      const patches = tf.matMul(patchify(images, p), patchKernel);
      let x = tf.add<tf.Tensor2D>(patches, this.v('patch_embed/bias')); // [B*T, D]
      if (c.posEmbedding) {
        x = tf.reshape(tf.add(tf.reshape(x, [b, t, d]), this.v('pos_embed')), [b * t, d]);
      }
      x = dropout(x, c.embDropout, rng);
      for (let i = 0; i < c.depth; i++) x = encoderBlock(x, this.blockWeights(i), shape, rng);
      x = layerNormEps(c.layerNormEps)(x, this.v('norm/gamma'), this.v('norm/beta'));
      const pooled = tokenMeans(x, b);
      // The 1x1 conv on the [g,g,D] grid is a dense layer on its tokens.
      x = dense(x, this.v('proj/kernel'), this.v('proj/bias'));
      const headKernel = tf.reshape(this.v('head/kernel'), [d, p * p * c.numClasses]) as tf.Tensor2D;
      const logits = pixelHead(x, headKernel, this.v('head/bias') as tf.Tensor1D, b, g, p); // [B,S,S,C]
      return { logits, pooled };
    });
  }
}

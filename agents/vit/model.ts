/**
 * The Face Transformer (./vit-net.ts has its computation and diagram) with its checkpoint files:
 * the class Node code builds, trains, saves and loads.
 */
import { Rng } from '../../src/core/rng.js';
import { VIT_CHECKPOINT } from './checkpoint.js';
import { paramSpecs } from './params.js';
import { loadNet, loadNetWeights, saveNet } from './persist.js';
import { ViTNet } from './vit-net.js';

export type { ApplyOptions, PredictOptions } from './net.js';

export class FaceTransformer extends ViTNet {
  /** A model with the config and weights saved in `dir`. */
  static load(dir: string): Promise<FaceTransformer> {
    return loadNet(dir, VIT_CHECKPOINT, paramSpecs, (config, weights) => new FaceTransformer(config, new Rng(0, 'unused'), weights));
  }

  /** Write model.json + weights.bin to `dir` (atomically; see agents/vit/README.md for the layout). */
  save(dir: string): Promise<void> {
    return saveNet(this, dir);
  }

  /**
   * Replace this model's weights with those saved in `dir` (e.g. to fine-tune a CE model with RL).
   * The architecture must match; dropout rates may differ. Nothing changes if it fails.
   */
  loadWeightsFrom(dir: string): Promise<void> {
    return loadNetWeights(this, dir);
  }
}

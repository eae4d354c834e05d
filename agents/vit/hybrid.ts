/**
 * The hybrid Face Transformer (./hybrid-net.ts has its computation and diagram) with its
 * checkpoint files: the class Node code builds, trains, saves and loads.
 */
import { Rng } from '../../src/core/rng.js';
import { HYBRID_CHECKPOINT, HybridNet, hybridParamSpecs } from './hybrid-net.js';
import { loadNet, loadNetWeights, saveNet } from './persist.js';

export { HYBRID_KIND, HYBRID_CHECKPOINT, hybridParamSpecs } from './hybrid-net.js';

export class HybridFaceTransformer extends HybridNet {
  /** A model with the config and weights saved in `dir`. */
  static load(dir: string): Promise<HybridFaceTransformer> {
    return loadNet(
      dir,
      HYBRID_CHECKPOINT,
      hybridParamSpecs,
      (config, weights) => new HybridFaceTransformer(config, new Rng(0, 'unused'), weights),
    );
  }

  /** Write model.json + weights.bin to `dir` (atomically; see agents/vit/README.md for the layout). */
  save(dir: string): Promise<void> {
    return saveNet(this, dir);
  }

  /** Replace this model's weights with those saved in `dir`; the architecture must match. Nothing changes if it fails. */
  loadWeightsFrom(dir: string): Promise<void> {
    return loadNetWeights(this, dir);
  }
}

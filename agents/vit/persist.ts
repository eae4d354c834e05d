/**
 * The Face Transformers' checkpoint files (Node): save, loadWeightsFrom and load of
 * {@link FaceTransformer} and {@link HybridFaceTransformer} (./model.ts, ./hybrid.ts) on top of
 * the file-free networks (./net.ts) that the browser page also runs.
 */
import * as tf from '@tensorflow/tfjs';
import { readCheckpoint, writeCheckpoint, type CheckpointKind } from './checkpoint.js';
import { netFromCheckpoint, type NamedVariableNet } from './net.js';
import type { ParamSpec } from './params.js';

type NetConfig = { imageSize: number; numClasses: number; dropout: number; embDropout: number };

/** Write model.json + weights.bin to `dir` (atomically; see agents/vit/README.md for the layout). */
export async function saveNet<C extends NetConfig>(net: NamedVariableNet<C>, dir: string): Promise<void> {
  const named = net.checkpointTensors('save');
  const kind = net.netKind;
  const by = `face-parsing-rl ${kind.label} (tfjs ${tf.version.tfjs})`;
  await writeCheckpoint(dir, net.config, named, by, kind.checkpoint.kind);
}

/** Replace `net`'s weights with those saved in `dir`; the architecture must match. Nothing changes if it fails. */
export async function loadNetWeights<C extends NetConfig>(net: NamedVariableNet<C>, dir: string): Promise<void> {
  net.checkpointTensors('loadWeightsFrom'); // a disposed model fails before any file is read
  net.loadWeights(await readCheckpoint(dir, net.netKind.checkpoint));
}

/** The model saved in `dir`, built by `make` from its own config and weights (a network's static `load`). */
export async function loadNet<C, N>(
  dir: string,
  checkpoint: CheckpointKind<C>,
  specsOf: (c: C) => ParamSpec[],
  make: (config: C, weights: tf.NamedTensorMap) => N,
): Promise<N> {
  return netFromCheckpoint(await readCheckpoint(dir, checkpoint), specsOf, make);
}

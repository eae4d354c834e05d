/**
 * The run's policy in the page: model.json and its weight shards fetched from `fprl serve`
 * (under /run/), checked by the same code as Node's reader (agents/vit/checkpoint-format.ts),
 * and built as the same network classes Node trains (agents/vit/vit-net.ts, hybrid-net.ts).
 */
import * as tf from '@tensorflow/tfjs';
import {
  HYBRID_CHECKPOINT,
  HybridNet,
  hybridParamSpecs,
} from '../../agents/vit/hybrid-net.js';
import {
  MODEL_JSON,
  VIT_CHECKPOINT,
  checkpointKindOf,
  parseCheckpoint,
  type FaceTransformerJSON,
} from '../../agents/vit/checkpoint-format.js';
import { netFromCheckpoint } from '../../agents/vit/net.js';
import { paramSpecs } from '../../agents/vit/params.js';
import { ViTNet } from '../../agents/vit/vit-net.js';
import { FprlError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { normalizeImage } from '../data/normalize.js';
import { labelsAtSize } from '../data/label-size.js';

export type PagePolicy = ViTNet | HybridNet;

async function fetchBytes(url: string, where: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new FprlError(`cannot fetch it (HTTP ${r.status})`, { where, hint: 'is fprl serve still running?' });
  return new Uint8Array(await r.arrayBuffer());
}

/** The policy at `url` (a folder URL ending in '/'); `dir` names it in messages (its path on the server). */
export async function loadPolicy(url: string, dir: string): Promise<PagePolicy> {
  const jsonWhere = `${dir}/${MODEL_JSON}`;
  let json: FaceTransformerJSON;
  try {
    json = JSON.parse(new TextDecoder().decode(await fetchBytes(url + MODEL_JSON, jsonWhere))) as FaceTransformerJSON;
  } catch (e) {
    if (e instanceof FprlError) throw e;
    throw new FprlError(`model.json is not valid JSON: ${(e as Error).message}`, { where: jsonWhere });
  }
  const kind = checkpointKindOf(json);
  const read = (p: string) => fetchBytes(url + encodeURIComponent(p), `${dir}/${p}`);
  const unused = new Rng(0, 'unused');
  if (kind === HYBRID_CHECKPOINT.kind) {
    const raw = await parseCheckpoint(dir, json, read, HYBRID_CHECKPOINT);
    return netFromCheckpoint(raw, hybridParamSpecs, (c, w) => new HybridNet(c, unused, w));
  }
  // Anything else (a vit, or no Face Transformer checkpoint at all) gets the ViT reader's checks and messages.
  const raw = await parseCheckpoint(dir, json, read, VIT_CHECKPOINT);
  return netFromCheckpoint(raw, paramSpecs, (c, w) => new ViTNet(c, unused, w));
}

/**
 * Labels [H*W] of a photo as `fprl predict` makes them: the photo resized to the model's size
 * (`small`, RGB bytes [S,S,3]; the page resizes with the canvas, predict with Lanczos, so the two
 * agree exactly when the photo already has the model's size), normalised, the logits resized
 * bilinearly to the photo's size, the argmax (src/data/label-size.ts, the same function).
 */
export function parseImage(net: PagePolicy, small: Uint8Array, height: number, width: number): Int32Array {
  const S = net.config.imageSize;
  const logits = tf.tidy(() => net.apply(tf.tensor4d(normalizeImage(small), [1, S, S, 3]), { training: false }).logits);
  try {
    return labelsAtSize(logits, 0, height, width);
  } finally {
    logits.dispose();
  }
}

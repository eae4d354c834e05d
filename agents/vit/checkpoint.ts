/**
 * Face Transformer checkpoints on disk (the format: ./checkpoint-format.ts). Both files are
 * written atomically (src/core/atomic.ts; weights.bin first, model.json last).
 */
import type * as tf from '@tensorflow/tfjs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../src/core/atomic.js';
import { FprlError } from '../../src/core/errors.js';
import type { ViTConfig } from './config.js';
import {
  MODEL_JSON,
  VIT_CHECKPOINT,
  WEIGHTS_BIN,
  encodeCheckpoint,
  parseCheckpoint,
  type CheckpointKind,
  type FaceTransformerJSON,
  type RawCheckpoint,
} from './checkpoint-format.js';

export * from './checkpoint-format.js';

/** Save named float32 tensors and the config of a `kind` network to `dir` (created if needed). */
export async function writeCheckpoint(
  dir: string,
  config: object,
  named: readonly { name: string; tensor: tf.Tensor }[],
  generatedBy: string,
  kind = VIT_CHECKPOINT.kind,
): Promise<void> {
  const { json, bytes } = await encodeCheckpoint(config, named, generatedBy, kind);
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(path.join(dir, WEIGHTS_BIN), bytes);
  await writeFileAtomic(path.join(dir, MODEL_JSON), `${JSON.stringify(json, null, 1)}\n`);
}

async function readOrExplain(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new FprlError(missing ? `no ${what} here` : `cannot read ${what}: ${(e as Error).message}`, {
      where: file,
      hint: missing
        ? 'point to a directory written by FaceTransformer.save (it holds model.json and weights.bin)'
        : 'check the file permissions',
      cause: e,
    });
  }
}

/** Read and check model.json + weights.bin (format, kind, config, sizes, checksum). */
export async function readCheckpoint<C = ViTConfig>(
  dir: string,
  format: CheckpointKind<C> = VIT_CHECKPOINT as unknown as CheckpointKind<C>,
): Promise<RawCheckpoint<C>> {
  const jsonPath = path.join(dir, MODEL_JSON);
  let json: FaceTransformerJSON;
  try {
    json = JSON.parse((await readOrExplain(jsonPath, MODEL_JSON)).toString('utf8'));
  } catch (e) {
    if (e instanceof FprlError) throw e;
    throw new FprlError(`model.json is not valid JSON: ${(e as Error).message}`, {
      where: jsonPath,
      hint: 'the save was interrupted or the file was edited; save the model again',
    });
  }
  return parseCheckpoint(dir, json, (p) => readOrExplain(path.join(dir, p), p), format);
}

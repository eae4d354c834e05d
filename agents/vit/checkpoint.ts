/**
 * Face Transformer weights on disk in the tfjs layout: `model.json` (weightsManifest + config)
 * and `weights.bin` (float32 little-endian, variables concatenated in manifest order), so
 * `tf.io.loadWeights`, tensorflowjs' Python `read_weights` or a few lines of numpy can read them.
 * Both files are written atomically (src/core/atomic.ts; weights.bin first, model.json last).
 */
import * as tf from '@tensorflow/tfjs';
import { crc32c } from '@aws-crypto/crc32c';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../src/core/atomic.js';
import { FprlError } from '../../src/core/errors.js';
import { validateViTConfig, type ViTConfig } from './config.js';
import { sizeOf, type ParamSpec } from './params.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
/** `format` field of model.json; `formatVersion` changes with incompatible layouts. */
export const CHECKPOINT_FORMAT = 'fprl-face-transformer';
export const CHECKPOINT_VERSION = 1;

/** What model.json holds (a tfjs ModelJSON with our config in userDefinedMetadata). */
export interface FaceTransformerJSON {
  format: typeof CHECKPOINT_FORMAT;
  generatedBy: string;
  convertedBy: null;
  modelTopology: null;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  /**
   * `kind`: the policy-network kind (agents/nets/registry.ts) whose config this is; absent means
   * `vit` (the Face Transformer), so checkpoints written before the hybrid existed read unchanged.
   */
  userDefinedMetadata: { formatVersion: number; kind?: string; config: object; weightsCrc32c: number };
}

/** How one network kind's config is checked when its checkpoint is read. */
export interface CheckpointKind<C> {
  kind: string;
  validate: (config: C, where: string) => C;
}

/** The Face Transformer's checkpoints (the default). */
export const VIT_CHECKPOINT: CheckpointKind<ViTConfig> = { kind: 'vit', validate: validateViTConfig };

/** A read checkpoint: config and raw weights, not yet turned into tensors. */
export interface RawCheckpoint<C = ViTConfig> {
  dir: string;
  config: C;
  specs: tf.io.WeightsManifestEntry[];
  data: ArrayBuffer;
}

/** Save named float32 tensors and the config of a `kind` network to `dir` (created if needed). */
export async function writeCheckpoint(
  dir: string,
  config: object,
  named: readonly { name: string; tensor: tf.Tensor }[],
  generatedBy: string,
  kind = VIT_CHECKPOINT.kind,
): Promise<void> {
  const { data, specs } = await tf.io.encodeWeights(named.map((n) => ({ name: n.name, tensor: n.tensor })));
  const bytes = new Uint8Array(data);
  const json: FaceTransformerJSON = {
    format: CHECKPOINT_FORMAT,
    generatedBy,
    convertedBy: null,
    modelTopology: null,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: specs }],
    userDefinedMetadata: {
      formatVersion: CHECKPOINT_VERSION,
      ...(kind === VIT_CHECKPOINT.kind ? {} : { kind }),
      config: { ...config },
      weightsCrc32c: crc32c(bytes),
    },
  };
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
  if (json?.format !== CHECKPOINT_FORMAT || json.userDefinedMetadata?.formatVersion !== CHECKPOINT_VERSION) {
    throw new FprlError(
      `not a Face Transformer checkpoint (format ${JSON.stringify(json?.format)}, version ${JSON.stringify(json?.userDefinedMetadata?.formatVersion)})`,
      { where: jsonPath, hint: `expected format '${CHECKPOINT_FORMAT}' version ${CHECKPOINT_VERSION}` },
    );
  }
  const kind = json.userDefinedMetadata.kind ?? VIT_CHECKPOINT.kind;
  if (kind !== format.kind) {
    throw new FprlError(`the checkpoint holds a '${kind}' network, not a '${format.kind}' one`, {
      where: `${jsonPath}: userDefinedMetadata.kind`,
      hint: `load it with the '${kind}' network's load(), or build a '${kind}' model`,
    });
  }
  const config = format.validate(
    json.userDefinedMetadata.config as C,
    `${jsonPath}: userDefinedMetadata.config`,
  );
  const groups = json.weightsManifest;
  if (!Array.isArray(groups) || groups.length === 0) {
    throw new FprlError('model.json has no weightsManifest', {
      where: jsonPath,
      hint: 'save the model again',
    });
  }
  // Shards and groups concatenate in manifest order (the tfjs convention).
  const parts: Buffer[] = [];
  const specs: tf.io.WeightsManifestEntry[] = [];
  for (const g of groups) {
    for (const p of g.paths) parts.push(await readOrExplain(path.join(dir, p), p));
    specs.push(...g.weights);
  }
  const bytes = Buffer.concat(parts);
  let expected = 0;
  for (const s of specs) {
    if (s.dtype !== 'float32' || s.quantization) {
      throw new FprlError(
        `variable '${s.name}' is stored as ${s.quantization ? 'quantized ' : ''}${s.dtype}`,
        {
          where: jsonPath,
          hint: 'Face Transformer checkpoints hold float32 weights only',
        },
      );
    }
    expected += sizeOf(s.shape) * 4;
  }
  if (bytes.byteLength !== expected) {
    throw new FprlError(`weights hold ${bytes.byteLength} bytes but model.json describes ${expected}`, {
      where: path.join(dir, WEIGHTS_BIN),
      hint: 'the checkpoint is truncated or its files come from different saves; save the model again',
    });
  }
  const crc = json.userDefinedMetadata.weightsCrc32c;
  if (typeof crc === 'number' && crc32c(bytes) !== crc) {
    throw new FprlError('weights.bin does not match the checksum in model.json', {
      where: path.join(dir, WEIGHTS_BIN),
      hint: 'the file is corrupt or belongs to another save; save the model again',
    });
  }
  const data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return { dir, config, specs, data };
}

/**
 * Check a checkpoint's variables against the expected ones (same names, same shapes) before any
 * tensor is made, so a mismatch fails cleanly. Throws naming the first variable that differs.
 */
export function checkVariables(
  raw: RawCheckpoint<unknown>,
  expected: readonly ParamSpec[],
  hint: string,
): void {
  const where = path.join(raw.dir, MODEL_JSON);
  const stored = new Map(raw.specs.map((s) => [s.name, s.shape]));
  for (const spec of expected) {
    const shape = stored.get(spec.name);
    if (!shape) {
      throw new FprlError(`checkpoint has no variable '${spec.name}' (expected shape [${spec.shape}])`, {
        where,
        hint,
      });
    }
    if (shape.length !== spec.shape.length || shape.some((d, i) => d !== spec.shape[i])) {
      throw new FprlError(
        `variable '${spec.name}' has shape [${shape}] in the checkpoint but [${spec.shape}] in the model`,
        {
          where,
          hint,
        },
      );
    }
  }
  const known = new Set(expected.map((s) => s.name));
  const extra = raw.specs.find((s) => !known.has(s.name));
  if (extra) {
    throw new FprlError(
      `checkpoint has a variable '${extra.name}' [${extra.shape}] the model does not have`,
      {
        where,
        hint,
      },
    );
  }
}

/** Decode the raw weights into tensors by name (caller disposes them). */
export function decodeCheckpoint(raw: RawCheckpoint<unknown>): tf.NamedTensorMap {
  return tf.io.decodeWeights(raw.data, raw.specs);
}

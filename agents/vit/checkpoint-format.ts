/**
 * The Face Transformer's checkpoint format, without files: `model.json` (weightsManifest +
 * config) and `weights.bin` (float32 little-endian, variables concatenated in manifest order), so
 * `tf.io.loadWeights`, tensorflowjs' Python `read_weights` or a few lines of numpy can read them.
 * Encoding and checking work on bytes, so the browser page (src/web/) checks a checkpoint it
 * fetched exactly as Node checks one it read; ./checkpoint.ts reads and writes the files.
 */
import * as tf from '@tensorflow/tfjs';
import { crc32c } from '@aws-crypto/crc32c';
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

/** model.json's content and weights.bin's bytes for named float32 tensors and the config of a `kind` network. */
export async function encodeCheckpoint(
  config: object,
  named: readonly { name: string; tensor: tf.Tensor }[],
  generatedBy: string,
  kind = VIT_CHECKPOINT.kind,
): Promise<{ json: FaceTransformerJSON; bytes: Uint8Array }> {
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
  return { json, bytes };
}

/** `dir` joined with a file name, with '/' (the same on every OS here and in URLs). */
export function joinPath(dir: string, file: string): string {
  return dir.endsWith('/') ? `${dir}${file}` : `${dir}/${file}`;
}

/** The network kind a model.json holds (absent means `vit`); undefined when it is no Face Transformer checkpoint. */
export function checkpointKindOf(json: unknown): string | undefined {
  const j = json as Partial<FaceTransformerJSON> | undefined;
  if (j?.format !== CHECKPOINT_FORMAT) return undefined;
  return j.userDefinedMetadata?.kind ?? VIT_CHECKPOINT.kind;
}

/**
 * Check a parsed model.json of the folder `dir` (named in errors) and its weight shards, read by
 * `readShard` (a path of the manifest -> its bytes): format, kind, config, sizes, checksum.
 */
export async function parseCheckpoint<C = ViTConfig>(
  dir: string,
  json: FaceTransformerJSON,
  readShard: (file: string) => Promise<Uint8Array>,
  format: CheckpointKind<C> = VIT_CHECKPOINT as unknown as CheckpointKind<C>,
): Promise<RawCheckpoint<C>> {
  const jsonPath = joinPath(dir, MODEL_JSON);
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
  const parts: Uint8Array[] = [];
  const specs: tf.io.WeightsManifestEntry[] = [];
  for (const g of groups) {
    for (const p of g.paths) parts.push(await readShard(p));
    specs.push(...g.weights);
  }
  const bytes = concatBytes(parts);
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
      where: joinPath(dir, WEIGHTS_BIN),
      hint: 'the checkpoint is truncated or its files come from different saves; save the model again',
    });
  }
  const crc = json.userDefinedMetadata.weightsCrc32c;
  if (typeof crc === 'number' && crc32c(bytes) !== crc) {
    throw new FprlError('weights.bin does not match the checksum in model.json', {
      where: joinPath(dir, WEIGHTS_BIN),
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
  const where = joinPath(raw.dir, MODEL_JSON);
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

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Named tensors on disk in the tfjs weights format: `<base>.json` holds the weight specs
 * (name, shape, dtype, as in a model.json `weightsManifest`) and `<base>.bin` the bytes, so
 * other tools can read optimiser state and small heads the same way as model weights.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FprlError } from '../core/errors.js';
import { writeFileAtomic } from '../core/atomic.js';

export interface TensorSpec {
  name: string;
  shape: number[];
  dtype: string;
}

interface TensorFile {
  format: 'fprl-tensors/1';
  weightsManifest: [{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }];
}

/** Write `tensors` (in order) to `<dir>/<base>.json` and `<dir>/<base>.bin`. */
export async function writeTensors(
  dir: string,
  base: string,
  tensors: { name: string; tensor: tf.Tensor }[],
): Promise<void> {
  const { data, specs } = await tf.io.encodeWeights(tensors.map((t) => ({ name: t.name, tensor: t.tensor })));
  const file: TensorFile = {
    format: 'fprl-tensors/1',
    weightsManifest: [{ paths: [`${base}.bin`], weights: specs }],
  };
  // The manifest last: a folder with the .json has its .bin complete.
  await writeFileAtomic(path.join(dir, `${base}.bin`), new Uint8Array(data as ArrayBuffer));
  await writeFileAtomic(path.join(dir, `${base}.json`), `${JSON.stringify(file, null, 1)}\n`);
}

/** The specs of a tensor file, without reading the bytes. */
export async function readTensorSpecs(dir: string, base: string): Promise<TensorSpec[]> {
  const file = await readManifest(dir, base);
  return file.weightsManifest[0].weights.map((w) => ({ name: w.name, shape: [...w.shape], dtype: w.dtype }));
}

/** Read a tensor file back, in the order written. The caller owns (disposes) the tensors. */
export async function readTensors(dir: string, base: string): Promise<{ name: string; tensor: tf.Tensor }[]> {
  const file = await readManifest(dir, base);
  const binPath = path.join(dir, file.weightsManifest[0].paths[0]);
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(binPath);
  } catch (e) {
    throw new FprlError(`cannot read tensor data: ${(e as Error).message}`, {
      where: binPath,
      hint: 'the checkpoint is incomplete; delete it to start over, or point at another checkpoint',
    });
  }
  const specs = file.weightsManifest[0].weights;
  const expected = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (bytes.byteLength !== expected) {
    throw new FprlError(`tensor data has ${bytes.byteLength} bytes, the manifest describes ${expected}`, {
      where: binPath,
      hint: 'the checkpoint is corrupted or truncated; delete it to start over',
    });
  }
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const named = tf.io.decodeWeights(buffer, specs);
  return specs.map((s) => ({ name: s.name, tensor: named[s.name] }));
}

async function readManifest(dir: string, base: string): Promise<TensorFile> {
  const p = path.join(dir, `${base}.json`);
  let text: string;
  try {
    text = await fs.readFile(p, 'utf8');
  } catch (e) {
    throw new FprlError(`cannot read ${base}.json: ${(e as Error).message}`, {
      where: p,
      hint: 'is this a checkpoint folder written by fprl? it may be incomplete',
    });
  }
  let file: TensorFile;
  try {
    file = JSON.parse(text) as TensorFile;
  } catch (e) {
    throw new FprlError(`not valid JSON: ${(e as Error).message}`, {
      where: p,
      hint: 'the file is corrupted',
    });
  }
  if (file.format !== 'fprl-tensors/1' || !Array.isArray(file.weightsManifest?.[0]?.weights)) {
    throw new FprlError('not an fprl tensor manifest', {
      where: p,
      hint: 'the file is corrupted or from another tool',
    });
  }
  return file;
}

/** Check that `vars` have the shapes in `specs` (same order); throws a clear error naming the first mismatch. */
export function checkShapes(
  specs: { name: string; shape: number[] }[],
  vars: { name: string; shape: number[] }[],
  where: string,
  what = 'model',
): void {
  const shapeStr = (s: number[]) => `[${s.join(',')}]`;
  if (specs.length !== vars.length) {
    throw new FprlError(
      `the checkpoint holds ${specs.length} ${what} variables, this ${what} has ${vars.length}: it was saved from a different ${what} size or architecture`,
      {
        where,
        hint: `use the same ${what} configuration (preset and sizes) as the run that wrote the checkpoint`,
      },
    );
  }
  for (let i = 0; i < specs.length; i++) {
    const a = specs[i].shape;
    const b = vars[i].shape;
    if (a.length !== b.length || a.some((d, j) => d !== b[j])) {
      throw new FprlError(
        `variable ${i} ('${specs[i].name}') has shape ${shapeStr(a)} in the checkpoint but ${shapeStr(b)} in this ${what} ('${vars[i].name}'): it was saved from a different ${what} size`,
        {
          where,
          hint: `use the same ${what} configuration (preset and sizes) as the run that wrote the checkpoint`,
        },
      );
    }
  }
}

/**
 * Tensors as weight files hold them, before any tfjs tensor exists: a name, a dtype, a shape and
 * a way to read the values (read lazily, one tensor at a time, so a big file is never held whole).
 * The readers (safetensors.ts, torch.ts) hand these out; values always come back as float32.
 */
import { FprlError } from '../core/errors.js';

/** Element types a weight file may declare that fprl can read (all widened to float32). */
export type FloatDType = 'F32' | 'F16' | 'BF16';

/** A tensor in a weight file: shape in the file's own layout (PyTorch's, row-major). */
export interface StoredTensor {
  name: string;
  /**
   * The element type. A tensor of another type (an int64 buffer, a float64 statistic) is listed
   * with `unsupported` set to its type: it may sit unused beside the weights, and only reading it
   * is an error (naming it).
   */
  dtype: FloatDType;
  unsupported?: string;
  shape: number[];
  /** The values as float32 (row-major, contiguous), read from the file on demand. */
  read(): Promise<Float32Array>;
}

/** A tensor already in memory. */
export interface DenseTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export const BYTES_PER: Record<FloatDType, number> = { F32: 4, F16: 2, BF16: 2 };

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** IEEE 754 half precision -> float32 (subnormals, infinities and NaN included). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Little-endian bytes of `dtype` -> float32 values. */
export function decodeFloats(bytes: Uint8Array, dtype: FloatDType): Float32Array {
  const n = bytes.byteLength / BYTES_PER[dtype];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  if (dtype === 'F32') {
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  } else if (dtype === 'F16') {
    for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
  } else {
    // bfloat16 is the top half of a float32.
    const wide = new DataView(new ArrayBuffer(4));
    for (let i = 0; i < n; i++) {
      wide.setUint32(0, view.getUint16(i * 2, true) << 16, false);
      out[i] = wide.getFloat32(0, false);
    }
  }
  return out;
}

/** float32 values -> little-endian bytes (what safetensors F32 and ONNX raw_data hold). */
export function encodeFloat32LE(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return out;
}

/**
 * Permute the axes of a row-major tensor: `out.shape[i] = shape[perm[i]]` (numpy's transpose).
 * Used to move between PyTorch's layouts (OIHW convs, [out,in] linears) and fprl's.
 */
export function permute(data: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array {
  const rank = shape.length;
  if (perm.length !== rank) throw new Error(`permute: ${perm.length} axes for a rank-${rank} tensor`);
  const strides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  const outShape = perm.map((p) => shape[p]);
  const outStrides = perm.map((p) => strides[p]);
  const out = new Float32Array(data.length);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let i = 0; i < rank; i++) src += idx[i] * outStrides[i];
    out[o] = data[src];
    for (let i = rank - 1; i >= 0; i--) {
      if (++idx[i] < outShape[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

/** `[a,b,...]` for messages. */
export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** A tensor fprl cannot read: listed, and an error naming it when its values are asked for. */
export function unreadable(file: string, name: string, dtype: string, shape: number[]): StoredTensor {
  return {
    name,
    dtype: 'F32',
    unsupported: dtype,
    shape,
    read: () =>
      Promise.reject(
        badFile(
          file,
          `tensor '${name}' has unsupported dtype ${dtype}`,
          'fprl reads F32, F16 and BF16 weights: convert the tensor in PyTorch (.float()) and save again',
        ),
      ),
  };
}

/** An FprlError about one weight file, naming it, with the hint every reader shares. */
export function badFile(file: string, message: string, hint?: string): FprlError {
  return new FprlError(message, {
    where: file,
    hint:
      hint ??
      'give a safetensors file or a PyTorch torch.save / Lightning .ckpt file (a zip); re-save it in PyTorch if it was cut short',
  });
}

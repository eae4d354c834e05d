/**
 * safetensors (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length N,
 * N bytes of JSON `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: {...} }`,
 * then the raw little-endian data, offsets relative to its start.
 *
 * Reading opens the file and reads the header only; each tensor is read by position when asked
 * for (the file is never read whole). Everything the header says is checked before any tensor is
 * handed out: the length fits the file, the JSON parses, dtypes are F32/F16/BF16, offsets lie
 * inside the data, match the shape, and no two tensors overlap. Writing streams tensor by tensor
 * into a temporary file that is renamed into place (src/core/atomic.ts).
 */
import { promises as fs } from 'node:fs';
import { AtomicFile } from '../core/atomic.js';
import {
  BYTES_PER,
  badFile,
  decodeFloats,
  encodeFloat32LE,
  numel,
  shapeText,
  type DenseTensor,
  type FloatDType,
  type StoredTensor,
  unreadable,
} from './tensors.js';

/** Headers beyond this are refused (the format's own reader caps them at 100 MB). */
const MAX_HEADER = 100_000_000;
const DTYPES: readonly string[] = ['F32', 'F16', 'BF16'];
/** Other dtypes of the format, by element size: listed (their offsets checked), refused when read. */
const OTHER_DTYPES: Record<string, number> = {
  F64: 8,
  I64: 8,
  U64: 8,
  I32: 4,
  U32: 4,
  I16: 2,
  U16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

export interface SafetensorsFile {
  file: string;
  tensors: StoredTensor[];
  metadata: Record<string, string>;
}

/** Whether the first bytes look like a safetensors header (a small length, then `{`). */
export function looksLikeSafetensors(head: Uint8Array, fileSize: number): boolean {
  if (head.length < 9) return false;
  const n = Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true));
  return n > 1 && n <= fileSize - 8 && head[8] === 0x7b;
}

/** Open a safetensors file and check its header; tensors are read on demand. */
export async function readSafetensors(file: string): Promise<SafetensorsFile> {
  const handle = await fs.open(file, 'r');
  let header: unknown;
  let size: number;
  let headerLength: number;
  try {
    size = (await handle.stat()).size;
    if (size < 8)
      throw badFile(file, `not a safetensors file: ${size} bytes, shorter than the 8-byte header length`);
    const lenBytes = Buffer.alloc(8);
    await handle.read(lenBytes, 0, 8, 0);
    const n = lenBytes.readBigUInt64LE(0);
    if (n > BigInt(size - 8)) {
      throw badFile(
        file,
        `safetensors header length ${n} goes beyond the file (${size} bytes): the file is truncated or not safetensors`,
      );
    }
    headerLength = Number(n);
    if (headerLength > MAX_HEADER)
      throw badFile(file, `safetensors header of ${headerLength} bytes is too large`);
    const text = Buffer.alloc(headerLength);
    await handle.read(text, 0, headerLength, 8);
    try {
      header = JSON.parse(text.toString('utf8'));
    } catch (e) {
      throw badFile(file, `safetensors header is not valid JSON (${(e as Error).message})`);
    }
  } finally {
    await handle.close();
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw badFile(file, 'safetensors header is not a JSON object');
  }
  const dataStart = 8 + headerLength;
  const dataLength = size - dataStart;
  const tensors: StoredTensor[] = [];
  const spans: { name: string; begin: number; end: number }[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const where = `tensor '${name}'`;
    const other = typeof e?.dtype === 'string' && Object.hasOwn(OTHER_DTYPES, e.dtype);
    if (typeof e?.dtype !== 'string' || (!DTYPES.includes(e.dtype) && !other)) {
      throw badFile(
        file,
        `${where} has unknown dtype ${JSON.stringify(e?.dtype)}`,
        'a safetensors dtype is one of F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL...; the header is damaged',
      );
    }
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw badFile(file, `${where} has a bad shape ${JSON.stringify(shape)}`);
    }
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw badFile(file, `${where} has bad data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    const dtype = e.dtype as FloatDType;
    const bytes = numel(shape) * (other ? OTHER_DTYPES[dtype] : BYTES_PER[dtype]);
    if (end < begin || end - begin !== bytes) {
      throw badFile(
        file,
        `${where} has data_offsets [${begin},${end}] (${end - begin} bytes) but ${dtype} ${shapeText(shape)} needs ${bytes}`,
      );
    }
    if (end > dataLength) {
      throw badFile(
        file,
        `${where} has data_offsets [${begin},${end}] beyond the data (${dataLength} bytes): the file is truncated`,
      );
    }
    spans.push({ name, begin, end });
    if (other) {
      tensors.push(unreadable(file, name, dtype, [...shape]));
      continue;
    }
    tensors.push({
      name,
      dtype,
      shape: [...shape],
      read: async () => {
        const h = await fs.open(file, 'r');
        try {
          const buf = Buffer.alloc(bytes);
          const { bytesRead } = await h.read(buf, 0, bytes, dataStart + begin);
          if (bytesRead !== bytes) throw badFile(file, `${where}: the file changed while it was read`);
          return decodeFloats(buf, dtype);
        } finally {
          await h.close();
        }
      },
    });
  }
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < spans.length; i++) {
    const [a, b] = [spans[i - 1], spans[i]];
    if (b.begin < a.end) {
      throw badFile(
        file,
        `tensors '${a.name}' [${a.begin},${a.end}] and '${b.name}' [${b.begin},${b.end}] overlap in the data`,
      );
    }
  }
  return { file, tensors, metadata };
}

/**
 * Write float32 tensors as safetensors, in the given order, with optional string metadata. The
 * header is padded with spaces to a multiple of 8 bytes (as the reference writer does) so the data
 * is aligned. Written atomically: a failure leaves no file.
 */
export async function writeSafetensors(
  file: string,
  tensors: readonly DenseTensor[],
  metadata: Record<string, string> = {},
): Promise<void> {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let at = 0;
  for (const t of tensors) {
    const bytes = t.data.length * 4;
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [at, at + bytes] };
    at += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  head.write(json, 8, 'utf8');
  const out = await AtomicFile.open(file);
  try {
    await out.write(head);
    for (const t of tensors) await out.write(encodeFloat32LE(t.data));
    await out.commit();
  } catch (e) {
    await out.abort();
    throw e;
  }
}

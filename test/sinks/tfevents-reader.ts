/**
 * An independent reader of TensorBoard event files for the tests: its own CRC32C table and
 * its own protobuf decoder, sharing no code with src/sinks, so a bug in the writer cannot
 * cancel out in the check.
 */

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32cRef(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function maskRef(crc: number): number {
  const rotated = ((crc >>> 15) | (crc << 17)) >>> 0;
  return (rotated + 0xa282ead8) % 2 ** 32;
}

/** Split a TFRecord file into payloads, checking both CRCs of every record. */
export function readRecords(buf: Uint8Array): Uint8Array[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + 12 > buf.length) throw new Error(`truncated header at byte ${at}`);
    const lo = view.getUint32(at, true);
    const hi = view.getUint32(at + 4, true);
    const len = hi * 2 ** 32 + lo;
    const lenCrc = view.getUint32(at + 8, true);
    if (lenCrc !== maskRef(crc32cRef(buf.subarray(at, at + 8))))
      throw new Error(`bad length CRC at byte ${at}`);
    const data = buf.subarray(at + 12, at + 12 + len);
    if (data.length !== len || at + 16 + len > buf.length) throw new Error(`truncated record at byte ${at}`);
    const dataCrc = view.getUint32(at + 12 + len, true);
    if (dataCrc !== maskRef(crc32cRef(data))) throw new Error(`bad data CRC at byte ${at}`);
    out.push(data);
    at += 16 + len;
  }
  return out;
}

export type Field = {
  num: number;
  wire: number;
  varint?: number;
  fixed64?: DataView;
  fixed32?: DataView;
  bytes?: Uint8Array;
};

/** Decode the top-level fields of a protobuf message. */
export function decodeFields(msg: Uint8Array): Field[] {
  const fields: Field[] = [];
  let at = 0;
  const varint = (): number => {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (at >= msg.length) throw new Error('truncated varint');
      const b = msg[at++];
      result += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return result;
    }
  };
  while (at < msg.length) {
    const key = varint();
    const num = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) fields.push({ num, wire, varint: varint() });
    else if (wire === 1) {
      fields.push({ num, wire, fixed64: new DataView(msg.buffer, msg.byteOffset + at, 8) });
      at += 8;
    } else if (wire === 2) {
      const len = varint();
      fields.push({ num, wire, bytes: msg.subarray(at, at + len) });
      at += len;
    } else if (wire === 5) {
      fields.push({ num, wire, fixed32: new DataView(msg.buffer, msg.byteOffset + at, 4) });
      at += 4;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  if (at !== msg.length) throw new Error('message overran its length');
  return fields;
}

export interface DecodedEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  sessionStatus?: number;
  values: {
    tag: string;
    simpleValue?: number;
    image?: { height: number; width: number; colorspace: number; encoded: Uint8Array };
  }[];
}

const text = new TextDecoder();

/** Decode an `Event` (tensorboard/compat/proto/event.proto) with the fields we write. */
export function decodeEvent(msg: Uint8Array): DecodedEvent {
  const ev: DecodedEvent = { wallTime: NaN, step: 0, values: [] };
  for (const f of decodeFields(msg)) {
    if (f.num === 1 && f.wire === 1) ev.wallTime = f.fixed64!.getFloat64(0, true);
    else if (f.num === 2 && f.wire === 0) ev.step = f.varint!;
    else if (f.num === 3 && f.wire === 2) ev.fileVersion = text.decode(f.bytes);
    else if (f.num === 7 && f.wire === 2)
      ev.sessionStatus = decodeFields(f.bytes!).find((g) => g.num === 1)?.varint;
    else if (f.num === 5 && f.wire === 2) {
      for (const v of decodeFields(f.bytes!)) {
        if (v.num !== 1 || v.wire !== 2) throw new Error(`unexpected Summary field ${v.num}`);
        const value: DecodedEvent['values'][number] = { tag: '' };
        for (const g of decodeFields(v.bytes!)) {
          if (g.num === 1) value.tag = text.decode(g.bytes);
          else if (g.num === 2 && g.wire === 5) value.simpleValue = g.fixed32!.getFloat32(0, true);
          else if (g.num === 4 && g.wire === 2) {
            const img: { height: number; width: number; colorspace: number; encoded: Uint8Array } = {
              height: 0,
              width: 0,
              colorspace: 0,
              encoded: new Uint8Array(),
            };
            for (const h of decodeFields(g.bytes!)) {
              if (h.num === 1) img.height = h.varint!;
              else if (h.num === 2) img.width = h.varint!;
              else if (h.num === 3) img.colorspace = h.varint!;
              else if (h.num === 4) img.encoded = h.bytes!;
            }
            value.image = img;
          } else throw new Error(`unexpected Value field ${g.num}`);
        }
        ev.values.push(value);
      }
    } else throw new Error(`unexpected Event field ${f.num} (wire ${f.wire})`);
  }
  return ev;
}

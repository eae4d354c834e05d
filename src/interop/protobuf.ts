/**
 * A minimal protocol-buffer encoder: the wire types TensorBoard's `Event` and `Summary` messages
 * and ONNX's `ModelProto` need (varint, 64-bit, length-delimited, 32-bit). Hand-written so that
 * writing event files and ONNX models needs no generated code, no .proto files at run time and no
 * native TensorFlow (protobufjs would need the schemas shipped or generated; these two formats use
 * a handful of fields). It lives in src/interop/ so the sinks (TensorBoard) and the ONNX exporter
 * (agents/vit) can both use it.
 *
 * Fields are always written, even when they hold the proto3 default: a `oneof` member such
 * as `Summary.Value.simple_value = 0` must be present on the wire to count as set.
 */
const WIRE_VARINT = 0;
const WIRE_64BIT = 1;
const WIRE_LENGTH = 2;
const WIRE_32BIT = 5;

const textEncoder = new TextEncoder();

export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  /** `double` field (wire type 1, little-endian IEEE 754). */
  double(field: number, value: number): this {
    this.tag(field, WIRE_64BIT);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, value, true);
    return this.push(b);
  }

  /** `float` field (wire type 5, little-endian IEEE 754 single precision). */
  float(field: number, value: number): this {
    this.tag(field, WIRE_32BIT);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    return this.push(b);
  }

  /** `int64` / `int32` / enum field (varint; negatives take ten bytes, as protobuf specifies). */
  int(field: number, value: number): this {
    if (!Number.isSafeInteger(value))
      throw new RangeError(`protobuf int field ${field}: ${value} is not a safe integer`);
    this.tag(field, WIRE_VARINT);
    return this.push(encodeVarint(value));
  }

  /** `string` field (UTF-8, length-delimited). */
  string(field: number, value: string): this {
    return this.bytes(field, textEncoder.encode(value));
  }

  /** `bytes` field or an embedded message already encoded (length-delimited). */
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LENGTH);
    this.push(encodeVarint(value.length));
    return this.push(value);
  }

  /** Embedded message built by `build` into a fresh writer. */
  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  /** The encoded message. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  private tag(field: number, wire: number): void {
    if (!Number.isInteger(field) || field < 1) throw new RangeError(`bad protobuf field number ${field}`);
    this.push(encodeVarint(field * 8 + wire));
  }

  private push(b: Uint8Array): this {
    this.chunks.push(b);
    this.length += b.length;
    return this;
  }
}

/** Base-128 varint of a safe integer; negative values as 64-bit two's complement. */
export function encodeVarint(value: number): Uint8Array {
  if (value < 0) return encodeVarintBig(BigInt.asUintN(64, BigInt(value)));
  const out: number[] = [];
  let v = value;
  // Division, not bit shifts: shifts truncate to 32 bits and steps can exceed 2^31.
  while (v >= 128) {
    out.push((v % 128) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Uint8Array.from(out);
}

function encodeVarintBig(value: bigint): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v >= 128n) {
    out.push(Number(v & 127n) | 128);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

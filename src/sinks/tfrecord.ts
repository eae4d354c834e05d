/**
 * TFRecord framing, the container of TensorBoard event files. Each record is
 *
 *   uint64 length | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)
 *
 * all little-endian. CRC32C is the Castagnoli polynomial; the mask rotates it and adds a
 * constant so that a CRC of data that itself contains CRCs stays well distributed.
 */
import { crc32c } from '@aws-crypto/crc32c';

const MASK_DELTA = 0xa282ead8;

/** TFRecord's mask: rotate right by 15 bits, add 0xa282ead8 (mod 2^32). */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

/** Masked CRC32C of `data`. */
export function maskedCrc32c(data: Uint8Array): number {
  return maskCrc(crc32c(data));
}

/** One framed record: 8 + 4 + data.length + 4 bytes. */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/**
 * Encoders for the TensorBoard messages we write, with field numbers from
 * tensorboard/compat/proto/event.proto and summary.proto:
 *
 *   Event   { double wall_time = 1; int64 step = 2;
 *             oneof what { string file_version = 3; Summary summary = 5; SessionLog session_log = 7; } }
 *   Summary { repeated Value value = 1; }
 *   Value   { string tag = 1; oneof value { float simple_value = 2; Image image = 4; } }
 *   Image   { int32 height = 1; int32 width = 2; int32 colorspace = 3; bytes encoded_image_string = 4; }
 *   SessionLog { SessionStatus status = 1; }   // START = 1
 */
import { ProtoWriter } from '../interop/protobuf.js';

/** The version string TensorBoard expects in the first record of a file. */
export const FILE_VERSION = 'brain.Event:2';

/** `Summary.Image.colorspace` values. */
export const COLORSPACE = { grayscale: 1, rgb: 3, rgba: 4 } as const;

export type SummaryValue =
  | { tag: string; simpleValue: number }
  | { tag: string; image: { height: number; width: number; colorspace: number; encoded: Uint8Array } };

/** What one event record carries (exactly one of the `what` fields). */
export type EventBody = { fileVersion: string } | { summary: SummaryValue[] } | { sessionStart: true };

/** An encoded `Event` message (not yet framed). */
export function encodeEvent(wallTime: number, step: number, body: EventBody): Uint8Array {
  const w = new ProtoWriter().double(1, wallTime).int(2, step);
  if ('fileVersion' in body) w.string(3, body.fileVersion);
  else if ('summary' in body)
    w.message(5, (s) => body.summary.forEach((v) => s.message(1, (m) => encodeValue(m, v))));
  else w.message(7, (s) => s.int(1, 1));
  return w.finish();
}

function encodeValue(w: ProtoWriter, v: SummaryValue): void {
  w.string(1, v.tag);
  if ('simpleValue' in v) {
    w.float(2, v.simpleValue);
  } else {
    const img = v.image;
    w.message(4, (m) => m.int(1, img.height).int(2, img.width).int(3, img.colorspace).bytes(4, img.encoded));
  }
}

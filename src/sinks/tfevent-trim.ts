/**
 * Keep each step once across a run's event files after a resume. A run killed after its last
 * checkpoint leaves events past that checkpoint in its old file; the resumed run logs those steps
 * again in a new file. TensorBoard itself drops them (the new file starts with SessionLog START),
 * but other readers of event files (tbparse, pandas exports, our own tests) would see every such
 * step twice, so the old files are rewritten without them: records with a step at or past the
 * resumed run's first step are dropped, and so is a torn last record. Written by hand because
 * it needs only the TFRecord framing and one protobuf field (the Event's step).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeFileAtomicSync } from '../core/atomic.js';
import { maskedCrc32c } from './tfrecord.js';

/** Event files in `logdir` other than `own`. */
function earlierFiles(logdir: string, own: string): string[] {
  let names: string[];
  try {
    names = readdirSync(logdir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith('events.out.tfevents.') && !n.includes('.tmp-') && n !== basename(own))
    .map((n) => join(logdir, n));
}

/** The records of a TFRecord file as [start, end) byte ranges; stops at the first torn or corrupt record. */
function records(buf: Uint8Array): { start: number; end: number; data: Uint8Array }[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: { start: number; end: number; data: Uint8Array }[] = [];
  let at = 0;
  while (at + 16 <= buf.length) {
    const len = view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
    if (view.getUint32(at + 8, true) !== maskedCrc32c(buf.subarray(at, at + 8))) break;
    const end = at + 16 + len;
    if (end > buf.length) break;
    const data = buf.subarray(at + 12, at + 12 + len);
    if (view.getUint32(at + 12 + len, true) !== maskedCrc32c(data)) break;
    out.push({ start: at, end, data });
    at = end;
  }
  return out;
}

/** The `step` (field 2, varint; 0 when absent, as protobuf defaults it) of an encoded Event, and whether it is the file-version header (field 3). */
export function eventHead(msg: Uint8Array): { step: number; fileVersion: boolean } {
  let at = 0;
  let step = 0;
  let fileVersion = false;
  const varint = (): number => {
    let v = 0;
    let scale = 1;
    for (;;) {
      if (at >= msg.length) return v; // a malformed varint ends the scan, never reads past the end
      const b = msg[at++];
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 128;
    }
  };
  while (at < msg.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) {
      const v = varint();
      if (field === 2) step = v;
    } else if (wire === 1) at += 8;
    else if (wire === 2) {
      if (field === 3) fileVersion = true;
      const n = varint(); // read before adding: `at += varint()` would add to the old `at`
      at += n;
    } else if (wire === 5) at += 4;
    else break; // groups are not used by Event
  }
  return { step, fileVersion };
}

/**
 * Rewrite the event files of `logdir` other than `own` without records at step >= `firstStep`
 * (the file-version header stays) and without a torn tail. Files that need no change are left untouched. Returns the files rewritten.
 */
export function trimEarlierEventFiles(logdir: string, own: string, firstStep: number): string[] {
  const changed: string[] = [];
  for (const file of earlierFiles(logdir, own)) {
    const buf = new Uint8Array(readFileSync(file));
    const all = records(buf);
    const kept = all.filter((r) => {
      const head = eventHead(r.data);
      return head.fileVersion || head.step < firstStep;
    });
    const keptBytes = kept.reduce((n, r) => n + r.end - r.start, 0);
    if (keptBytes === buf.length) continue;
    const out = new Uint8Array(keptBytes);
    let at = 0;
    for (const r of kept) {
      out.set(buf.subarray(r.start, r.end), at);
      at += r.end - r.start;
    }
    writeFileAtomicSync(file, out);
    changed.push(file);
  }
  return changed;
}

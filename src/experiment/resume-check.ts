import { isDeepStrictEqual } from 'node:util';
import path from 'node:path';
import { FprlError } from '../core/errors.js';
import { verified, type CheckpointMeta } from '../train/checkpoint.js';

/**
 * What a resume checks before it trusts a run's checkpoint (docs/RELIABILITY.md, "Integrity of
 * what a resume reads"): the run's configuration now must be the one the checkpoint was
 * trained with (a RunConfigRecord of run-one.ts), or the rest of the run would silently train under another config and be
 * reported as one normal run. The checksums of the files are checked when they are loaded
 * (src/train/checkpoint.ts).
 */

/** Paths that may change between sessions of one run: a resumed sweep may add seeds. */
const MAY_CHANGE = new Set(['/experiment/seeds']);

/** Every JSON path (leaves, or where the shapes part) where `a` and `b` differ. */
export function jsonDifferences(a: unknown, b: unknown, at = ''): string[] {
  if (MAY_CHANGE.has(at) || isDeepStrictEqual(a, b)) return [];
  if (a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) =>
      jsonDifferences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}/${k}`),
    );
  }
  return [at || '/'];
}

const show = (v: unknown): string => (v === undefined ? '(absent)' : JSON.stringify(v).slice(0, 60));

function valueAt(v: unknown, at: string): unknown {
  for (const k of at.split('/').slice(1))
    v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/**
 * Refuse to resume `dir`'s checkpoint under a config other than the one it recorded, listing
 * every differing field with both values; `note` gets one line for a checkpoint written before
 * checksums (loaded unverified).
 */
export function checkResume(
  meta: CheckpointMeta,
  now: unknown,
  dir: string,
  note: (line: string) => void,
): void {
  const where = path.join(dir, 'checkpoint.json');
  if (!verified(meta)) {
    note(`${where}: written before checkpoints had checksums; its files are loaded unverified`);
  }
  if (meta.config === undefined) return;
  // Through JSON, as the checkpoint holds it (undefined fields dropped).
  const diff = jsonDifferences(meta.config, JSON.parse(JSON.stringify(now)));
  if (diff.length === 0) return;
  const listed = diff
    .slice(0, 10)
    .map((p) => `${p}: ${show(valueAt(meta.config, p))} in the checkpoint, ${show(valueAt(now, p))} now`);
  const more = diff.length > 10 ? `; and ${diff.length - 10} more` : '';
  throw new FprlError(
    `will not resume the run (step ${meta.step}) under a changed config; ${diff.length} field(s) differ: ${listed.join('; ')}${more}`,
    {
      where,
      hint: "restore the run's config.json as it was, or start the changed experiment in a new --out folder",
    },
  );
}

/**
 * Degenerate splits (docs/RELIABILITY.md, "Data folders"): a split with no usable samples, a
 * split whose every label map holds one class only (blank or thresholded masks: an export gone
 * wrong), and classes absent from a whole split. `fprl data check` and `fprl run` both tell them
 * from a {@link LabelTally}; empty and one-class splits are errors, absent classes warnings.
 */
import { CLASS_NAMES, NUM_CLASSES } from '../core/classes.js';
import type { Dataset } from '../core/types.js';
import type { Problem } from './folder/problems.js';

/** What the checks need of a split's labels, counted one label map at a time. */
export interface LabelTally {
  /** Label maps counted. */
  images: number;
  /** In how many label maps each class appears. */
  presence: number[];
  /** Per class: label maps holding that class and no other (ignore pixels aside). */
  onlyClass: number[];
}

export function newTally(): LabelTally {
  return {
    images: 0,
    presence: new Array<number>(NUM_CLASSES).fill(0),
    onlyClass: new Array<number>(NUM_CLASSES).fill(0),
  };
}

/** Count one label map `[H,W]` (class ids, 255 ignore). */
export function addLabel(t: LabelTally, label: Uint8Array): void {
  const seen = new Uint8Array(256);
  for (let i = 0; i < label.length; i++) seen[label[i]] = 1;
  let classes = 0;
  let last = -1;
  for (let k = 0; k < NUM_CLASSES; k++) {
    if (!seen[k]) continue;
    t.presence[k]++;
    classes++;
    last = k;
  }
  t.images++;
  if (classes === 1) t.onlyClass[last]++;
}

const names = (ks: number[]) => ks.map((k) => CLASS_NAMES[k]).join(', ');

/** The problems of split `split` (its folder: `where`) from its tally. */
export function degenerateProblems(split: string, t: LabelTally, where: string): Problem[] {
  if (t.images === 0) {
    return [
      {
        file: where,
        message: `the ${split} split is empty: no usable samples`,
        hint: 'put image/label pairs in its images/ and labels/ folders, or remove the split folder',
        severity: 'error',
      },
    ];
  }
  const problems: Problem[] = [];
  const single = t.onlyClass.reduce((a, b) => a + b, 0);
  if (single === t.images) {
    const used = t.onlyClass.flatMap((n, k) => (n > 0 ? [k] : []));
    problems.push({
      file: where,
      message:
        used.length === 1
          ? `every label map of the ${split} split is ${CLASS_NAMES[used[0]]} only (${t.images} image${t.images === 1 ? '' : 's'})`
          : `every label map of the ${split} split holds one class only (${names(used)}; ${t.images} images)`,
      hint: 'the labels were probably written wrong (blank, thresholded or RGB-converted masks): open a few, and export them again as class ids 0..10',
      severity: 'error',
    });
  }
  const absent = t.presence.flatMap((n, k) => (n === 0 ? [k] : []));
  if (absent.length && single !== t.images) {
    problems.push({
      file: where,
      message: `class${absent.length === 1 ? '' : 'es'} absent from the whole ${split} split: ${names(absent)}`,
      hint: 'training never sees an absent class, and its score on this split is undefined (NaN); fine for a deliberately reduced label set',
      severity: 'warning',
    });
  }
  return problems;
}

/** Tally every label of an opened split (folder sets read their stored labels without a copy). */
export async function tallyDataset(
  ds: Dataset & { storedLabel?(i: number): Promise<Uint8Array> },
): Promise<LabelTally> {
  const t = newTally();
  for (let i = 0; i < ds.length; i++)
    addLabel(t, ds.storedLabel ? await ds.storedLabel(i) : (await ds.get(i)).label);
  return t;
}

/** Number and label formatting shared by report.md, report.html and the terminal table. */
import type { Estimate } from './stats.js';
import type { Summary } from './summary.js';

/** Short column names for the LaPa classes, as the LaPa papers print them. */
export const CLASS_ABBREV: Record<string, string> = {
  background: 'BG',
  skin: 'Skin',
  left_eyebrow: 'L-B',
  right_eyebrow: 'R-B',
  left_eye: 'L-E',
  right_eye: 'R-E',
  nose: 'Nose',
  upper_lip: 'U-L',
  inner_mouth: 'I-M',
  lower_lip: 'L-L',
  hair: 'Hair',
};

/** Display names of the usual metrics. */
const METRIC_LABEL: Record<string, string> = {
  meanF1: 'mean F1',
  mIoU: 'mIoU',
  pixelAccuracy: 'pixel acc.',
  meanDice: 'mean Dice',
};

export function metricLabel(name: string): string {
  return METRIC_LABEL[name] ?? name;
}

/** 3 decimals for scores in the usual range; 4 significant digits for large values. */
export function num(x: number | null | undefined): string {
  if (x === null || x === undefined || Number.isNaN(x)) return 'n/a';
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 100 ? x.toPrecision(4) : x.toFixed(3);
}

/** `0.612 ± 0.021`, or `0.612 (n=1)` when the interval is undefined, or `n/a`. */
export function meanPm(e: Estimate | undefined): string {
  if (!e || e.n === 0) return 'n/a';
  if (e.halfWidth === null) return `${num(e.mean)} (n=${e.n})`;
  return `${num(e.mean)} ± ${num(e.halfWidth)}`;
}

export function interval(ci: [number, number] | null): string {
  return ci ? `[${num(ci[0])}, ${num(ci[1])}]` : 'n/a';
}

export function pValue(p: number | null): string {
  if (p === null) return 'n/a';
  return p < 0.001 ? '<0.001' : p.toFixed(3);
}

export function signed(x: number): string {
  return `${x >= 0 ? '+' : '−'}${num(Math.abs(x))}`;
}

export function seconds(s: number): string {
  if (!Number.isFinite(s)) return 'n/a';
  if (s < 60) return `${s.toFixed(1)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Index of the best (highest) mean in a column, or -1 if fewer than two agents have one. */
export function bestIndex(estimates: (Estimate | undefined)[]): number {
  let best = -1;
  let count = 0;
  estimates.forEach((e, i) => {
    if (!e || e.n === 0 || !Number.isFinite(e.mean)) return;
    count++;
    if (best < 0 || e.mean > estimates[best]!.mean) best = i;
  });
  return count >= 2 ? best : -1;
}

/** A file-name-safe slug: `losses/policy` -> `losses-policy`. */
export function slug(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, '') || 'x';
}

/** Where a summary's final metrics were counted, as words for a report's lead sentence. */
export function resolutionPhrase(
  summary: Pick<Summary, 'resolution'> & { flip?: boolean | 'mixed'; logitAdjusted?: boolean | 'mixed' },
): string {
  const flip =
    (summary.flip === true
      ? ", each image's logits averaged with its mirror's (flip test-time augmentation)"
      : summary.flip === 'mixed'
        ? ', some runs with flip test-time augmentation (see the notes)'
        : '') +
    (summary.logitAdjusted === true
      ? ', with -log(class weights) added to the logits before the argmax (logit adjustment)'
      : summary.logitAdjusted === 'mixed'
        ? ', the agents with class weights deciding with the logit adjustment (see the notes)'
        : '');
  switch (summary.resolution) {
    case 'native':
      return `at each label's own resolution (the LaPa protocol)${flip}`;
    case 'model':
      return `at the model's input size${flip}`;
    default:
      return `at mixed resolutions (see the notes)${flip}`;
  }
}

/** The comparison table as aligned plain text, for the terminal (e.g. after `npm start`). */
export function formatSummaryTable(summary: Summary): string {
  const level = Math.round(summary.confidenceLevel * 100);
  const header = ['agent', 'seeds', ...summary.mainMetrics.map(metricLabel), 'wall time'];
  const rows = summary.agents.map((a) => [
    a.agent,
    `${a.seeds.length}/${a.seeds.length + a.failedSeeds.length}`,
    ...summary.mainMetrics.map((m) => meanPm(a.metrics[m])),
    a.wallSeconds.n > 0 ? seconds(a.wallSeconds.mean) : 'n/a',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  const out = [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
  out.push(
    `(mean ± half-width of the ${level}% confidence interval over seeds, Student t; scored ${resolutionPhrase(summary)})`,
  );
  return out.join('\n');
}

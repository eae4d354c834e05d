/** Formatting helpers shared by the progress bars and the plain-line mode. */

/** `42s`, `3m05s`, `1h02m`; `?` when unknown. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** In order of preference: what one number best tells how a run is doing. */
const HEADLINE_PATTERNS: readonly [RegExp, string][] = [
  // Under per-pixel credit `reward/mean` is the mean credit; the image reward is `reward/image_mean`.
  [/^reward\/image_mean$/, 'reward'],
  [/^rewards?\/(mean|combined|total)$/, 'reward'],
  [/^rewards?\//, 'reward'],
  [/reward/, 'reward'],
  [/^losses?\/(total|loss)$/, 'loss'],
  [/^losses?\/(ce|cross_entropy|policy)/, 'loss'],
  [/loss/, 'loss'],
];

/** The latest reward if the run has one, else its loss: `reward 0.512` / `loss 1.234`. */
export function headline(scalars: Record<string, number>): string {
  const keys = Object.keys(scalars);
  for (const [re, label] of HEADLINE_PATTERNS) {
    const k = keys.find((key) => re.test(key));
    if (k !== undefined) return `${label} ${formatNumber(scalars[k])}`;
  }
  return '';
}

export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 1000 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : x.toFixed(3);
}

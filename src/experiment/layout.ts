/**
 * Where a sweep writes (docs/ARCHITECTURE.md, "Output, resume, lock"):
 * ```
 * runs/<experiment>-<time>/
 *   config.json, environment.json, .lock
 *   <agent>/seed-<n>/  metrics.jsonl, events.out.tfevents.*, checkpoints/, predictions.png, result.json
 *   summary.json, report.md, report.html
 * ```
 * A run is finished exactly when its result.json exists (written atomically, last).
 */
import path from 'node:path';

export const SWEEP_FILES = {
  config: 'config.json',
  environment: 'environment.json',
  summary: 'summary.json',
  reportMd: 'report.md',
  reportHtml: 'report.html',
} as const;

export const RUN_FILES = {
  metrics: 'metrics.jsonl',
  checkpoints: 'checkpoints',
  predictions: 'predictions.png',
  result: 'result.json',
} as const;

/** The default output folder: `<base>/<name>-YYYYMMDD-HHMMSS` (local time, sorts by date). */
export function defaultSweepDir(name: string, now: Date = new Date(), base = 'runs'): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp =
    `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-` +
    `${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return path.join(base, `${name}-${stamp}`);
}

/** Folder of one run inside a sweep folder. */
export function runDir(sweepDir: string, agent: string, seed: number): string {
  return path.join(sweepDir, agent, `seed-${seed}`);
}

export function runPaths(dir: string) {
  return {
    dir,
    metrics: path.join(dir, RUN_FILES.metrics),
    checkpoints: path.join(dir, RUN_FILES.checkpoints),
    predictions: path.join(dir, RUN_FILES.predictions),
    result: path.join(dir, RUN_FILES.result),
  };
}

export function sweepPaths(dir: string) {
  return {
    dir,
    config: path.join(dir, SWEEP_FILES.config),
    environment: path.join(dir, SWEEP_FILES.environment),
    summary: path.join(dir, SWEEP_FILES.summary),
    reportMd: path.join(dir, SWEEP_FILES.reportMd),
    reportHtml: path.join(dir, SWEEP_FILES.reportHtml),
  };
}

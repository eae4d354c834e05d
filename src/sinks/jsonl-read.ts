import { readFile } from 'node:fs/promises';
import { FprlError } from '../core/errors.js';
import type { JsonlRecord } from './jsonl.js';

/** A metrics log read back: its records, and how many unreadable lines were skipped. */
export interface MetricsLog {
  records: JsonlRecord[];
  /** Lines that were not JSON (a run killed mid-write leaves at most one per kill). */
  skippedLines: number;
}

/** Read `metrics.jsonl`, turning "NaN"/"Infinity" strings in `scalars` and `metrics` back into numbers. */
export async function readMetricsLog(path: string): Promise<MetricsLog> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new FprlError(`cannot read the metrics log: ${(e as Error).message}`, {
      where: path,
      hint: 'check the run folder; metrics.jsonl is written by JsonlSink during training',
      cause: e,
    });
  }
  const records: JsonlRecord[] = [];
  let skippedLines = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const rec = JSON.parse(line) as JsonlRecord;
      for (const k of ['scalars', 'metrics'] as const) if (isObject(rec[k])) reviveNumbers(rec[k]);
      records.push(rec);
    } catch {
      skippedLines++;
    }
  }
  return { records, skippedLines };
}

/**
 * Learning curves from a log, one point per step. A resumed run re-logs the steps after its
 * last checkpoint, so for a repeated step the LAST record wins (it belongs to the run that
 * finished).
 */
export function curvesFromLog(
  records: readonly JsonlRecord[],
  opts: { runId?: string; split?: string } = {},
): {
  train: { step: number; scalars: Record<string, number> }[];
  curve: { step: number; metrics: Record<string, number> }[];
} {
  const train = new Map<number, Record<string, number>>();
  const curve = new Map<number, Record<string, number>>();
  for (const r of records) {
    if (opts.runId !== undefined && r.runId !== opts.runId) continue;
    if (r.type === 'train:step') train.set(r.step as number, r.scalars as Record<string, number>);
    else if (r.type === 'eval:end' && (opts.split === undefined || r.split === opts.split))
      curve.set(r.step as number, r.metrics as Record<string, number>);
  }
  const byStep = <T>(m: Map<number, T>) => [...m.entries()].sort((a, b) => a[0] - b[0]);
  return {
    train: byStep(train).map(([step, scalars]) => ({ step, scalars })),
    curve: byStep(curve).map(([step, metrics]) => ({ step, metrics })),
  };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null;
}

function reviveNumbers(o: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(o)) {
    if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') o[k] = Number(v);
  }
}

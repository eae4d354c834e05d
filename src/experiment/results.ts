/** Reading what a sweep has written: result.json of each run, the stored config. */
import { existsSync, promises as fs } from 'node:fs';
import type { RunResult } from '../report/types.js';
import { FprlError } from '../core/errors.js';
import { runDir, runPaths } from './layout.js';
import type { RunSpec } from './plan.js';

/**
 * Parse a JSON file. A missing file gives undefined, or an FprlError naming it when
 * `required`; an unreadable one is always an FprlError.
 */
export async function readJsonFile<T = unknown>(file: string, required: true): Promise<T>;
export async function readJsonFile<T = unknown>(file: string, required?: boolean): Promise<T | undefined>;
export async function readJsonFile<T = unknown>(file: string, required = false): Promise<T | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !required) return undefined;
    throw new FprlError(`cannot read: ${(e as Error).message}`, { where: file, cause: e });
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new FprlError(`not valid JSON: ${(e as Error).message}`, {
      where: file,
      hint: 'the file is damaged; delete it (a run without result.json is run again)',
      cause: e,
    });
  }
}

/** A run's result.json, or undefined when the run has not finished. */
export function readRunResult(
  sweepDir: string,
  run: Pick<RunSpec, 'agent' | 'seed'>,
): Promise<RunResult | undefined> {
  return readJsonFile<RunResult>(runPaths(runDir(sweepDir, run.agent, run.seed)).result);
}

/**
 * Results of every planned run that has one, in plan order. Picture paths point at where the
 * run's predictions.png is now (the folder may have moved since the run, or be resumed from
 * another working directory).
 */
export async function collectResults(sweepDir: string, runs: readonly RunSpec[]): Promise<RunResult[]> {
  const out: RunResult[] = [];
  for (const r of runs) {
    const res = await readRunResult(sweepDir, r);
    if (!res) continue;
    const png = runPaths(runDir(sweepDir, r.agent, r.seed)).predictions;
    const { picturesPng: _old, ...rest } = res;
    out.push(existsSync(png) ? { ...rest, picturesPng: png } : rest);
  }
  return out;
}

/**
 * `fprl data synth`: write synthetic faces in the LaPa layout.
 * `fprl data check DIR`: counts, class shares and problems of a data folder; exits
 * non-zero when it finds errors. `--class-weights inverse-sqrt` adds cross-entropy class
 * weights from one split's pixel shares (paste them into an agent's `classWeights`).
 */
import { type Command, InvalidArgumentError } from 'commander';
import { CLASS_NAMES } from '../core/classes.js';
import { FprlError } from '../core/errors.js';
import { type CheckReport, checkDataFolder } from '../data/check.js';
import { type ClassWeighting, classWeightsFromShares } from '../data/class-weights.js';
import type { CelebLayout } from '../data/folder/celebamask.js';
import { type SynthFolderResult, writeSyntheticFolder } from '../data/synth-folder.js';

type Write = (line: string) => void;

function intArg(min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`expected an integer >= ${min}, got '${v}'`);
    return n;
  };
}

export interface SynthCommandOptions {
  out: string;
  train: number;
  val: number;
  test: number;
  size: number;
  seed: number;
  format: 'png' | 'jpg';
  /** Write into a non-empty --out that fprl data synth did not make. */
  force?: boolean;
}

export async function runDataSynth(opts: SynthCommandOptions, write: Write): Promise<SynthFolderResult> {
  const t0 = performance.now();
  const res = await writeSyntheticFolder({
    out: opts.out,
    counts: { train: opts.train, val: opts.val, test: opts.test },
    size: opts.size,
    seed: opts.seed,
    format: opts.format,
    force: opts.force,
  });
  const parts = Object.entries(res.written).map(([k, v]) => `${k} ${v}`);
  write(
    `wrote ${parts.join(', ')} synthetic faces (${opts.size} px, seed ${opts.seed}, ${opts.format}) to ${opts.out} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return res;
}

function pct(v: number): string {
  return v === 0 ? '0' : v < 0.0001 ? '<0.01%' : `${(100 * v).toFixed(2)}%`;
}

/** The check report as text lines. */
export function formatCheckReport(r: CheckReport, maxProblems = 50): string[] {
  const lines: string[] = [`${r.format} folder ${r.root}`];
  const col = (v: string) => v.padStart(16);
  if (r.missing.length) lines.push(`splits not present: ${r.missing.join(', ')}`);
  const head = ['class'.padEnd(14), ...r.splits.map((s) => col(s.split))].join(' ');
  lines.push('', `${'samples'.padEnd(14)} ${r.splits.map((s) => col(String(s.samples))).join(' ')}`);
  lines.push(`${'good'.padEnd(14)} ${r.splits.map((s) => col(String(s.good))).join(' ')}`);
  lines.push(`${'layout'.padEnd(14)} ${r.splits.map((s) => col(s.layout)).join(' ')}`);
  lines.push('', 'pixel share per class (share of good samples that contain it):', head);
  CLASS_NAMES.forEach((name, k) => {
    const cells = r.splits.map(
      (s) => `${pct(s.classShare[k])} (${s.good ? Math.round((100 * s.presence[k]) / s.good) : 0}%)`,
    );
    lines.push(`${name.padEnd(14)} ${cells.map(col).join(' ')}`);
  });
  lines.push(`${'ignore (255)'.padEnd(14)} ${r.splits.map((s) => col(pct(s.ignoreShare))).join(' ')}`);
  const problems = r.splits.flatMap((s) => s.problems);
  lines.push(
    '',
    `${r.errors} error${r.errors === 1 ? '' : 's'}, ${r.warnings} warning${r.warnings === 1 ? '' : 's'}`,
  );
  for (const p of problems.slice(0, maxProblems)) lines.push(`  ${p.severity}: ${p.file}: ${p.message}`);
  if (problems.length > maxProblems)
    lines.push(`  ... and ${problems.length - maxProblems} more (use --json for all)`);
  return lines;
}

export interface CheckCommandOptions {
  format: 'lapa' | 'celebamask';
  layout?: CelebLayout;
  mergedOrder?: 'g_mask' | 'face-parsing-pytorch';
  json?: boolean;
  /** Also derive class weights from the pixel shares of `weightsSplit` (default train). */
  classWeights?: ClassWeighting;
  weightsSplit?: string;
}

export interface ClassWeightsLine {
  split: string;
  kind: ClassWeighting;
  /** One weight per class, mean 1 over the classes present, rounded to 4 decimals. */
  weights: number[];
}

/** Class weights from a checked split's pixel shares. */
export function classWeightsOf(report: CheckReport, kind: ClassWeighting, split = 'train'): ClassWeightsLine {
  const s = report.splits.find((x) => x.split === split);
  if (!s) {
    throw new FprlError(
      `split '${split}' is not in the folder (found: ${report.splits.map((x) => x.split).join(', ')})`,
      {
        where: '--weights-split',
        hint: 'derive the weights from the training split',
      },
    );
  }
  const weights = classWeightsFromShares(s.classShare, kind).map((w) => Math.round(w * 1e4) / 1e4);
  return { split, kind, weights };
}

/** Print the report; throw (non-zero exit) when it has errors. */
export async function runDataCheck(
  dir: string,
  opts: CheckCommandOptions,
  write: Write,
): Promise<CheckReport> {
  // A bad weighting is refused before the (slow) scan of the folder.
  if (opts.classWeights !== undefined) classWeightsFromShares([1], opts.classWeights);
  const report = await checkDataFolder(dir, {
    format: opts.format,
    celebamask: { layout: opts.layout, mergedOrder: opts.mergedOrder },
  });
  const weights = opts.classWeights
    ? classWeightsOf(report, opts.classWeights, opts.weightsSplit ?? 'train')
    : undefined;
  if (opts.json) write(JSON.stringify(weights ? { ...report, classWeights: weights } : report, null, 2));
  else {
    for (const line of formatCheckReport(report)) write(line);
    if (weights) {
      write('');
      write(
        `class weights (${weights.kind} of the ${weights.split} pixel shares, mean 1), for classWeights:`,
      );
      write(JSON.stringify(weights.weights));
    }
  }
  if (report.errors > 0) {
    throw new FprlError(`${report.errors} error${report.errors === 1 ? '' : 's'} found`, {
      where: report.root,
      hint: 'fix or remove the files listed above, or let readers skip them with --skip-bad',
    });
  }
  return report;
}

export function register(program: Command): void {
  const data = program.command('data').description('make and check face data folders');
  const out: Write = (line) => process.stdout.write(`${line}\n`);

  data
    .command('synth')
    .description('write synthetic faces in the LaPa folder layout')
    .requiredOption('--out <dir>', 'output folder')
    .option('--train <n>', 'training faces', intArg(0), 1000)
    .option('--val <n>', 'validation faces', intArg(0), 200)
    .option('--test <n>', 'test faces', intArg(0), 200)
    .option('--size <px>', 'image side in pixels', intArg(8), 128)
    .option('--seed <k>', 'seed of the set', intArg(0), 0)
    .option('--format <fmt>', 'image format: png (lossless) or jpg', 'png')
    .option('--force', 'write into a non-empty --out that fprl data synth did not make')
    .action(async (o: SynthCommandOptions) => {
      await runDataSynth(o, out);
    });

  data
    .command('check')
    .description('count samples, class shares and problems of a data folder (non-zero exit on errors)')
    .argument('<dir>', 'data folder')
    .option('--format <fmt>', 'lapa or celebamask', 'lapa')
    .option(
      '--layout <layout>',
      'CelebAMask-HQ layout: auto, split-folders, partitioned, merged, parts',
      'auto',
    )
    .option(
      '--merged-order <order>',
      'CelebAMask-HQ merged mask order: g_mask or face-parsing-pytorch',
      'g_mask',
    )
    .option('--json', 'print the full report as JSON')
    .option(
      '--class-weights <kind>',
      'also print cross-entropy class weights from the pixel shares: inverse or inverse-sqrt',
    )
    .option('--weights-split <split>', 'split whose pixel shares give the class weights', 'train')
    .action(async (dir: string, o: CheckCommandOptions) => {
      await runDataCheck(dir, o, out);
    });
}

/**
 * `fprl eval --run DIR [--data PATH|synthetic] [--split test] [--json]`: evaluate a run's
 * final checkpoint with the LaPa protocol (one confusion matrix over the split, each image
 * scored at its label's own size: logits resized bilinearly before the argmax), printed as a
 * table or as the JSON `fprl score` prints, plus the scores at the model's input size when
 * the label sizes differ from it.
 */
import type { Command } from 'commander';
import { describeBackend, initBackend } from '../backend/backend.js';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../core/atomic.js';
import { FprlError } from '../core/errors.js';
import { guardOutput } from '../core/output-guard.js';
import { openSplit, type SplitName } from '../experiment/datasets.js';
import { loadRun, runLogitAdjustment } from '../experiment/load-run.js';
import { parsePositiveInt } from './run.js';
import { formatScoreReport, type ScoreReport } from './score.js';
import { evaluate, logitAdjustmentOf, type Resolution } from '../train/evaluate.js';
import { classWeightsOf } from '../experiment/run-one.js';
import type { DatasetConfig } from '../experiment/schema.js';
import { syntheticDatasetSchema } from '../experiment/schema.js';

export interface EvalOptions {
  /** Run folder or checkpoint folder. */
  run: string;
  /** A LaPa-layout folder, `synthetic`, or (default) the run's own dataset. */
  data?: string;
  /** Default: the experiment's evaluation split. */
  split?: SplitName;
  batchSize?: number;
  /** Evaluate at most this many images (default all). */
  limit?: number;
  /** Flip test-time augmentation (default: the experiment's `evaluation.flip`). */
  flip?: boolean;
  /** Subtract log(class weights) from the logits (default: the experiment's `evaluation.logitAdjustment`). */
  logitAdjustment?: boolean;
  /** Data warnings (skipped files). */
  warn?: (msg: string) => void;
}

export interface EvalReport extends ScoreReport {
  run: { agent: string; seed: number; step: number; checkpoint: string };
  split: string;
  dataset: string;
  /** Where the scores were counted: 'native', each label's own size (synthetic faces: the model's size). */
  resolution: Resolution;
  /** True when each image's logits were averaged with its mirror's (flip test-time augmentation). */
  flip: boolean;
  /** True when -log(class weights) was added to the logits (logit adjustment). */
  logitAdjusted: boolean;
  /** The same predictions at the model's input size, when some label's own size differs from it. */
  modelSize?: ScoreReport & { height: number; width: number };
}

/** The dataset `--data` names, at the model's image size. */
function datasetFor(data: string | undefined, own: DatasetConfig, size: number): DatasetConfig {
  if (data === undefined) return own;
  if (data === 'synthetic') {
    if (own.kind === 'synthetic') return own;
    const d = syntheticDatasetSchema.properties;
    return {
      kind: 'synthetic',
      size,
      train: d.train.default,
      val: d.val.default,
      test: d.test.default,
      seed: d.seed.default,
      difficulty: d.difficulty.default,
      augment: false,
    };
  }
  const kind = own.kind === 'synthetic' ? 'lapa' : own.kind;
  return { kind, root: data, size, skipBad: false, augment: false };
}

export async function evalRun(opts: EvalOptions): Promise<EvalReport> {
  const loaded = await loadRun(opts.run);
  try {
    const { exp } = loaded;
    const ds = datasetFor(opts.data, exp.config.dataset, exp.vit.imageSize);
    const split = opts.split ?? exp.config.evaluation.split;
    const dataset = await openSplit(ds, split, opts.warn);
    const r = await evaluate(loaded.agent, dataset, {
      batchSize: opts.batchSize ?? exp.config.evaluation.batchSize,
      limit: opts.limit ?? 0,
      flip: opts.flip ?? exp.config.evaluation.flip,
      // Asked for on the command line: the agent must have class weights; by the config: as in
      // the run, agents without them decide on their plain logits.
      logitBias:
        opts.logitAdjustment === true
          ? runLogitAdjustment(loaded)
          : (opts.logitAdjustment ?? exp.config.evaluation.logitAdjustment)
            ? logitAdjustmentOf(classWeightsOf(loaded.entry), `agent '${loaded.entry.name}' classWeights`)
            : undefined,
    });
    const m = r.modelSize;
    return {
      images: r.images,
      ...r.scores,
      perImage: r.perImage,
      run: { agent: loaded.entry.name, seed: loaded.seed, step: loaded.step, checkpoint: loaded.checkpoint },
      split,
      dataset:
        ds.kind === 'synthetic' ? `synthetic (size ${ds.size}, seed ${ds.seed})` : `${ds.kind} ${ds.root}`,
      resolution: r.resolution,
      flip: r.flip,
      logitAdjusted: r.logitAdjusted,
      ...(m
        ? {
            modelSize: {
              height: m.height,
              width: m.width,
              images: r.images,
              ...m.scores,
              perImage: m.perImage,
            },
          }
        : {}),
    };
  } finally {
    loaded.agent.dispose();
  }
}

/** The line saying where the scores were counted (and the model-size scores, when they differ). */
export function formatResolution(r: EvalReport): string {
  const m = r.modelSize;
  const at = m
    ? `\nat the model's input size (${m.width}x${m.height}, labels resized nearest-neighbour): ` +
      `mean F1 ${m.meanF1.toFixed(4)}, mIoU ${m.mIoU.toFixed(4)}, pixel accuracy ${m.pixelAccuracy.toFixed(4)}`
    : '';
  const flip =
    (r.flip ? "\nflip            on (each image's logits averaged with its mirror's)" : '') +
    (r.logitAdjusted ? '\nlogit adjust.   on (-log of the class weights added to the logits)' : '');
  return r.resolution === 'native'
    ? `resolution      native (each label's own size; logits resized bilinearly before the argmax)${at}${flip}`
    : `resolution      the model's input size${at}${flip}`;
}

function parseSplit(text: string): SplitName {
  if (text === 'train' || text === 'val' || text === 'test') return text;
  throw new FprlError(`unknown split '${text}'`, { where: '--split', hint: 'train, val or test' });
}

/** Refuse an `--out` file that is one of the inputs or a file fprl eval did not write (before evaluating). */
export async function guardEvalOut(
  out: string,
  opts: { run: string; data?: string; force?: boolean },
): Promise<void> {
  await guardOutput(out, {
    command: 'fprl eval',
    kind: 'file',
    inputs: [opts.run, opts.data === 'synthetic' ? undefined : opts.data],
    force: opts.force,
    ownsFile: async (f) => {
      const r = JSON.parse(await readFile(f, 'utf8')) as Partial<EvalReport>;
      return typeof r.run?.checkpoint === 'string' && typeof r.split === 'string';
    },
  });
}

export function register(program: Command): void {
  program
    .command('eval')
    .description("evaluate a run's final checkpoint with the LaPa protocol (mean F1, mIoU, per class)")
    .requiredOption(
      '--run <dir>',
      'run folder (runs/<experiment>-<time>/<agent>/seed-<n>) or its checkpoints/',
    )
    .option('--data <path>', "a LaPa-layout folder, or 'synthetic' (default: the run's dataset)")
    .option('--split <name>', "train, val or test (default: the experiment's evaluation split)", parseSplit)
    .option('--batch-size <n>', 'images per batch', parsePositiveInt('--batch-size'))
    .option('--limit <n>', 'evaluate at most this many images', parsePositiveInt('--limit'))
    .option('--flip', "flip test-time augmentation: average each image's logits with its mirror's")
    .option('--no-flip', "no flip test-time augmentation (default: the experiment's evaluation.flip)")
    .option('--logit-adjustment', "subtract log(class weights) from the logits (an agent trained with classWeights)")
    .option('--no-logit-adjustment', "plain logits (default: the experiment's evaluation.logitAdjustment)")
    .option('--backend <name>', 'compute backend: auto, tensorflow-gpu, tensorflow, wasm, cpu')
    .option('--json', 'print the report as JSON (as fprl score --json)')
    .option('--out <file>', 'also write the JSON report to this file (new, or one fprl eval wrote)')
    .option('--force', 'overwrite an existing --out file that fprl eval did not write')
    .action(
      async (flags: {
        out?: string;
        force?: boolean;
        run: string;
        data?: string;
        split?: SplitName;
        batchSize?: number;
        limit?: number;
        flip?: boolean;
        logitAdjustment?: boolean;
        backend?: string;
        json?: boolean;
      }) => {
        if (flags.out !== undefined) await guardEvalOut(flags.out, flags);
        process.stderr.write(`${describeBackend(await initBackend(flags.backend))}\n`);
        const report = await evalRun({ ...flags, warn: (m) => process.stderr.write(`warning: ${m}\n`) });
        if (flags.out !== undefined) await writeFileAtomic(flags.out, `${JSON.stringify(report, null, 2)}\n`);
        if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else {
          const { agent, seed, step } = report.run;
          process.stdout.write(
            `${agent} seed ${seed} (step ${step}) on ${report.dataset}, split ${report.split}\n\n`,
          );
          process.stdout.write(`${formatScoreReport(report)}\n`);
          process.stdout.write(`${formatResolution(report)}\n`);
        }
      },
    );
}

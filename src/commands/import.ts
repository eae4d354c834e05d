/**
 * `fprl import FILE --out DIR`: a PyTorch weight file (safetensors, torch.save, Lightning .ckpt)
 * as an fprl checkpoint folder that an experiment starts from (`"initWeights": "DIR"` on an agent).
 * Prints the layout and architecture found, where each field came from, and what started fresh.
 */
import type { Command } from 'commander';
import { initBackend } from '../backend/backend.js';
import { FprlError } from '../core/errors.js';
import { importWeights, type ArchChoice, type ImportSummary } from '../train/interop.js';
import { parsePositiveInt } from './run.js';

const ARCHES: readonly ArchChoice[] = ['auto', 'torch-vit', 'timm-vit'];

/** The lines `fprl import` prints. */
export function describeImport(s: ImportSummary, out: string): string {
  const c = s.model.config;
  const lines = [
    `read ${s.fileFormat} ${s.source}${s.stateDictKey ? ` (state dict under '${s.stateDictKey}')` : ''}`,
    `layout: ${s.layout}${s.prefix ? `, module prefix '${s.prefix}' stripped` : ''}`,
    `architecture: image ${c.imageSize}, patch ${c.patchSize}, dim ${c.dim}, depth ${c.depth}, heads ${c.heads}, mlp ${c.mlpDim}, classes ${c.numClasses}, ${c.normFirst ? 'pre-norm' : 'post-norm'}, position embedding ${c.posEmbedding ? 'on' : 'off'}`,
    ...Object.entries(s.sources).map(([k, v]) => `  ${k}: ${v}`),
    `loaded ${s.loaded.length} variables`,
    s.fresh.length ? `initialised fresh: ${s.fresh.join(', ')}` : 'initialised fresh: nothing',
    ...(s.dropped.length ? [`not used: ${s.dropped.join(', ')}`] : []),
    ...s.notes,
    `wrote ${out} (start an agent from it with "initWeights": "${out}")`,
  ];
  return `${lines.join('\n')}\n`;
}

function parseArch(text: string): ArchChoice {
  if (!(ARCHES as readonly string[]).includes(text)) {
    throw new FprlError(`unknown --arch '${text}'`, {
      where: '--arch',
      hint: `choose one of: ${ARCHES.join(', ')}`,
    });
  }
  return text as ArchChoice;
}

function parseNorm(text: string): boolean {
  if (text !== 'pre' && text !== 'post') {
    throw new FprlError(`unknown --norm '${text}'`, {
      where: '--norm',
      hint: 'pre (norm_first=True) or post',
    });
  }
  return text === 'pre';
}

export function register(program: Command): void {
  program
    .command('import')
    .description(
      'read PyTorch weights (safetensors, torch.save, Lightning .ckpt) into an fprl checkpoint folder',
    )
    .argument('<file>', 'weight file')
    .requiredOption('--out <dir>', 'folder to write (new, empty, or made by fprl import)')
    .option('--arch <name>', `key layout: ${ARCHES.join(', ')}`, parseArch, 'auto')
    .option(
      '--preset <name>',
      'ViT preset giving what shapes cannot (heads, norm order, image size, dropout)',
    )
    .option('--heads <n>', 'attention heads', parsePositiveInt('--heads'))
    .option(
      '--image-size <n>',
      'input side in pixels (a timm backbone is resampled to it)',
      parsePositiveInt('--image-size'),
    )
    .option('--norm <order>', 'encoder blocks: pre (norm_first=True) or post', parseNorm)
    .option('--classes <n>', 'classes of a freshly initialised head (timm)', parsePositiveInt('--classes'))
    .option('--seed <n>', 'seed of freshly initialised variables', parsePositiveInt('--seed', 0), 0)
    .option('--force', 'replace a non-empty --out that fprl import did not make')
    .action(
      async (
        file: string,
        flags: {
          out: string;
          arch: ArchChoice;
          preset?: string;
          heads?: number;
          imageSize?: number;
          norm?: boolean;
          classes?: number;
          seed: number;
          force?: boolean;
        },
      ) => {
        await initBackend('cpu');
        const summary = await importWeights(file, flags.out, {
          arch: flags.arch,
          preset: flags.preset,
          heads: flags.heads,
          imageSize: flags.imageSize,
          normFirst: flags.norm,
          numClasses: flags.classes,
          seed: flags.seed,
          force: flags.force,
        });
        process.stdout.write(describeImport(summary, flags.out));
      },
    );
}

/**
 * `fprl export RUN_OR_CHECKPOINT --format safetensors|onnx --out FILE`: a Face Transformer's
 * weights for PyTorch (safetensors under the names of ../shared/peer/torch_vit_bench.py's
 * ViTSegmenter, loadable with load_state_dict(strict=True)) or the greedy parser as ONNX (opset 17:
 * image [B,S,S,3] in [-1,1] -> logits [B,S,S,C] and labels [B,S,S]).
 */
import type { Command } from 'commander';
import { initBackend } from '../backend/backend.js';
import { FprlError } from '../core/errors.js';
import { exportWeights, type ExportFormat } from '../train/interop.js';

function parseFormat(text: string): ExportFormat {
  if (text !== 'safetensors' && text !== 'onnx') {
    throw new FprlError(`unknown --format '${text}'`, { where: '--format', hint: 'safetensors or onnx' });
  }
  return text;
}

export function register(program: Command): void {
  program
    .command('export')
    .description("write a run's Face Transformer as safetensors (PyTorch names) or ONNX (the greedy parser)")
    .argument('<from>', 'run folder, checkpoint folder, or a folder made by fprl import')
    .requiredOption('--format <fmt>', 'safetensors or onnx', parseFormat)
    .requiredOption('--out <file>', 'file to write (new, or one fprl export wrote)')
    .option('--force', 'overwrite an existing --out file that fprl export did not write')
    .action(async (from: string, flags: { format: ExportFormat; out: string; force?: boolean }) => {
      await initBackend('cpu');
      const { config, policyDir } = await exportWeights(from, flags.format, flags.out, {
        force: flags.force,
      });
      if (
        flags.format === 'safetensors' &&
        (config.mlpActivation === 'gelu' || config.layerNormEps !== undefined)
      ) {
        process.stdout.write(
          `note: build the PyTorch module with TransformerEncoderLayer(..., activation='${config.mlpActivation ?? 'relu'}', layer_norm_eps=${config.layerNormEps ?? 1e-5}) and nn.LayerNorm(D, eps=${config.layerNormEps ?? 1e-5}) to compute the same function\n`,
        );
      }
      process.stdout.write(
        `exported ${policyDir} (image ${config.imageSize}, patch ${config.patchSize}, dim ${config.dim}, depth ${config.depth}, ${config.normFirst ? 'pre' : 'post'}-norm) as ${flags.format} -> ${flags.out}\n`,
      );
    });
}

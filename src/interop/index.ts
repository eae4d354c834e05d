/**
 * Weight files from and for other tools: safetensors (read and write), PyTorch / Lightning zip
 * checkpoints (read, never executing a pickle), and the protobuf encoder under TensorBoard event
 * files and ONNX models. Nothing here knows a network: agents/vit/torch-layout.ts maps names.
 */
import { promises as fs } from 'node:fs';
import { readSafetensors, looksLikeSafetensors } from './safetensors.js';
import { readTorchFile, type TorchFile } from './torch.js';
import { badFile } from './tensors.js';
import { FprlError } from '../core/errors.js';

export * from './tensors.js';
export { readSafetensors, writeSafetensors, type SafetensorsFile } from './safetensors.js';
export { readTorchFile, type TorchFile } from './torch.js';
export { unpickle, refusedIn, type PyValue } from './pickle.js';

/**
 * A weight file opened by {@link openWeightFile}, whatever its format: a torch file's fields
 * (a safetensors file has no state-dict key, ignored or skipped entries, or hyper-parameters).
 */
export interface WeightFile extends TorchFile {
  format: 'safetensors' | 'torch';
}

/** Open a safetensors file or a torch.save / Lightning zip, chosen by its first bytes. */
export async function openWeightFile(file: string): Promise<WeightFile> {
  let head: Buffer;
  let size: number;
  try {
    const h = await fs.open(file, 'r');
    try {
      size = (await h.stat()).size;
      head = Buffer.alloc(Math.min(16, size));
      await h.read(head, 0, head.length, 0);
    } finally {
      await h.close();
    }
  } catch (e) {
    throw new FprlError(`cannot read the weight file: ${(e as Error).message}`, { where: file, cause: e });
  }
  if (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50) {
    const t = await readTorchFile(file);
    return { ...t, format: 'torch' };
  }
  if (looksLikeSafetensors(head, size) || (head.length >= 8 && head[8] === 0x7b)) {
    const s = await readSafetensors(file);
    return {
      file,
      format: 'safetensors',
      tensors: s.tensors,
      stateDictKey: '',
      ignored: [],
      skipped: [],
      hyperParameters: fprlConfigOf(s.metadata),
      close: async () => undefined,
    };
  }
  if (head[0] === 0x80) {
    throw badFile(
      file,
      'a legacy torch.save file (PyTorch < 1.6, or _use_new_zipfile_serialization=False): fprl reads the zip format',
      'load it in PyTorch and save it again with torch.save(state_dict, path) (or as safetensors)',
    );
  }
  throw badFile(file, 'not a safetensors file and not a zip (torch.save / Lightning .ckpt) file');
}

/** The plain fields of the config fprl writes into its safetensors exports (`fprl.config`). */
function fprlConfigOf(metadata: Record<string, string>): Record<string, number | string | boolean> {
  try {
    const c = JSON.parse(metadata['fprl.config'] ?? '{}') as Record<string, unknown>;
    return Object.fromEntries(
      Object.entries(c).filter(([, v]) => ['number', 'string', 'boolean'].includes(typeof v)),
    ) as Record<string, number | string | boolean>;
  } catch {
    return {};
  }
}

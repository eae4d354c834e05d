/**
 * PyTorch `torch.save` files and Lightning `.ckpt` files (torch >= 1.6 zip format): a zip holding
 * `<root>/data.pkl` (the pickled object, read with the restricted unpickler of pickle.ts) and one
 * raw little-endian storage per `<root>/data/<key>`. Storages are read one at a time when a
 * tensor's values are asked for, so a large checkpoint is never held whole in memory.
 *
 * The zip is read with yauzl: a maintained, dependency-free reader that reads the central
 * directory and then each entry by position through a file descriptor (random access, no whole-file
 * buffer), handles zip64 (checkpoints over 4 GiB) and validates entry bounds. fflate and jszip
 * (also on the registry) unzip from one in-memory buffer, which a multi-GB checkpoint cannot be.
 */
import yauzl from 'yauzl';
import {
  badFile,
  numel,
  shapeText,
  type FloatDType,
  type StoredTensor,
  unreadable,
  decodeFloats,
  BYTES_PER,
} from './tensors.js';
import {
  isRefused,
  isTensorRef,
  refusedIn,
  unpickle,
  type PyKey,
  type PyValue,
  type TensorRef,
} from './pickle.js';
import { FprlError } from '../core/errors.js';

const STORAGE_DTYPES: Record<string, FloatDType> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
};
const STORAGE_BYTES: Record<string, number> = {
  FloatStorage: 4,
  HalfStorage: 2,
  BFloat16Storage: 2,
  DoubleStorage: 8,
  LongStorage: 8,
  IntStorage: 4,
  ShortStorage: 2,
  CharStorage: 1,
  ByteStorage: 1,
  BoolStorage: 1,
};

/** Keys of a Lightning checkpoint around its `state_dict` (reported as ignored, never read). */
export const LIGHTNING_STATE_KEY = 'state_dict';

export interface TorchFile {
  file: string;
  /** The state dict's tensors, in file order (keys as saved, prefix not yet stripped). */
  tensors: StoredTensor[];
  /** Where the state dict was: `''` (the file is one), `state_dict` (Lightning), `model`... */
  stateDictKey: string;
  /** Other top-level entries, ignored: `epoch`, `hyper_parameters`... */
  ignored: string[];
  /** Messages about entries skipped because they hold objects fprl does not unpickle. */
  skipped: string[];
  /** Plain (number, string, boolean) hyper-parameters of a Lightning checkpoint, for inference. */
  hyperParameters: Record<string, number | string | boolean>;
  close(): Promise<void>;
}

interface Zip {
  zip: yauzl.ZipFile;
  entries: Map<string, yauzl.Entry>;
}

function openZip(file: string): Promise<Zip> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, autoClose: false }, (err, zip) => {
      if (err || !zip) {
        reject(
          badFile(
            file,
            `cannot read the zip of a PyTorch checkpoint: it is truncated or damaged (${err?.message ?? 'unreadable'})`,
          ),
        );
        return;
      }
      const entries = new Map<string, yauzl.Entry>();
      zip.on('entry', (e: yauzl.Entry) => {
        entries.set(e.fileName, e);
        zip.readEntry();
      });
      zip.on('end', () => resolve({ zip, entries }));
      zip.on('error', (e: Error) => {
        zip.close();
        reject(badFile(file, `the zip is damaged: ${e.message}`));
      });
      zip.readEntry();
    });
  });
}

function readEntry(file: string, z: Zip, entry: yauzl.Entry): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    z.zip.openReadStream(entry, (err, stream) => {
      if (err || !stream) {
        reject(badFile(file, `cannot read ${entry.fileName}: ${err?.message}`));
        return;
      }
      const parts: Buffer[] = [];
      stream.on('data', (c: Buffer) => parts.push(c));
      stream.on('end', () => resolve(Buffer.concat(parts)));
      stream.on('error', (e: Error) => reject(badFile(file, `cannot read ${entry.fileName}: ${e.message}`)));
    });
  });
}

/** Values of a strided view of a storage, as a contiguous row-major array. */
function gather(storage: Float32Array, t: TensorRef): Float32Array {
  const n = numel(t.size);
  const out = new Float32Array(n);
  const rank = t.size.length;
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < n; o++) {
    let src = t.offset;
    for (let i = 0; i < rank; i++) src += idx[i] * t.stride[i];
    out[o] = storage[src];
    for (let i = rank - 1; i >= 0; i--) {
      if (++idx[i] < t.size[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

function maxIndex(t: TensorRef): number {
  return t.size.reduce((m, d, i) => m + (d > 0 ? (d - 1) * t.stride[i] : 0), t.offset);
}

function asMap(v: PyValue): Map<PyKey, PyValue> | undefined {
  return v instanceof Map ? v : undefined;
}

/** Whether a dict is a state dict: every value a tensor (or a marker we will name). */
function isStateDict(m: Map<PyKey, PyValue>): boolean {
  return m.size > 0 && [...m.values()].every((v) => isTensorRef(v) || isRefused(v));
}

/** Open a torch.save / Lightning file: find its state dict and describe its tensors (values read lazily). */
export async function readTorchFile(file: string): Promise<TorchFile> {
  const z = await openZip(file);
  try {
    const pkl = [...z.entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (!pkl) {
      throw badFile(
        file,
        'a zip without <name>/data.pkl: not a torch.save file',
        'save the weights with torch.save(model.state_dict(), path)',
      );
    }
    const root = pkl.slice(0, -'data.pkl'.length);
    const where = `${file}: ${pkl}`;
    const obj = unpickle(await readEntry(file, z, z.entries.get(pkl)!), where);
    const refuse = (global: string, at: string) =>
      new FprlError(`refusing to unpickle global '${global}'${at ? ` in '${at}'` : ''}`, {
        where: file,
        hint: 'a weight file may hold tensors, dicts, lists, numbers and strings only; fprl never runs code from a pickle. Save model.state_dict() alone',
      });
    if (isRefused(obj)) throw refuse(obj.global, '');
    const top = asMap(obj);
    if (!top) throw badFile(file, 'the pickled object is not a dict of tensors', 'save model.state_dict()');
    let stateDictKey = '';
    let sd: Map<PyKey, PyValue> = top;
    const ignored: string[] = [];
    const skipped: string[] = [];
    const hyperParameters: Record<string, number | string | boolean> = {};
    if (!isStateDict(top)) {
      const candidate = ['state_dict', 'model', 'model_state_dict', 'module', 'net'].find((k) =>
        asMap(top.get(k) as PyValue),
      );
      if (!candidate) {
        const refused = [...refusedIn(top)];
        if (refused.length) throw refuse(refused[0], '');
        throw badFile(
          file,
          `no state dict found: top-level keys are ${[...top.keys()].map((k) => `'${String(k)}'`).join(', ')}`,
          "save model.state_dict(), or a dict holding it under 'state_dict' (Lightning) or 'model'",
        );
      }
      stateDictKey = candidate;
      sd = asMap(top.get(candidate) as PyValue)!;
      for (const [k, v] of top) {
        if (k === candidate) continue;
        const globals = [...refusedIn(v)];
        if (globals.length) {
          skipped.push(
            `skipped '${String(k)}': it holds pickled ${globals.map((g) => `'${g}'`).join(', ')} objects (never unpickled or run)`,
          );
        } else ignored.push(String(k));
      }
      const hp = asMap(top.get('hyper_parameters') as PyValue);
      if (hp && !refusedIn(hp).size) {
        for (const [k, v] of hp)
          if (['number', 'string', 'boolean'].includes(typeof v))
            hyperParameters[String(k)] = v as number | string | boolean;
      }
    }
    const tensors: StoredTensor[] = [];
    for (const [k, v] of sd) {
      const name = String(k);
      if (isRefused(v)) throw refuse(v.global, `${stateDictKey ? `${stateDictKey}.` : ''}${name}`);
      if (!isTensorRef(v)) {
        throw badFile(file, `state dict entry '${name}' is not a tensor`, 'save model.state_dict()');
      }
      const type = v.storage.type;
      const dtype = STORAGE_DTYPES[type];
      if (!dtype) {
        tensors.push(unreadable(file, name, type.replace(/Storage$/, ''), [...v.size]));
        continue;
      }
      const entryName = `${root}data/${v.storage.key}`;
      const entry = z.entries.get(entryName);
      if (!entry) throw badFile(file, `tensor '${name}': its storage ${entryName} is missing from the zip`);
      const bytes = v.storage.numel * STORAGE_BYTES[type];
      if (entry.uncompressedSize < bytes) {
        throw badFile(
          file,
          `tensor '${name}': storage ${entryName} holds ${entry.uncompressedSize} bytes, ${bytes} expected`,
        );
      }
      if (v.size.length !== v.stride.length || (numel(v.size) > 0 && maxIndex(v) >= v.storage.numel)) {
        throw badFile(
          file,
          `tensor '${name}' ${shapeText(v.size)} reaches beyond its storage (${v.storage.numel} elements)`,
        );
      }
      tensors.push({
        name,
        dtype,
        shape: [...v.size],
        read: async () => {
          const buf = await readEntry(file, z, entry);
          const storage = decodeFloats(buf.subarray(0, v.storage.numel * BYTES_PER[dtype]), dtype);
          return gather(storage, v);
        },
      });
    }
    return {
      file,
      tensors,
      stateDictKey,
      ignored,
      skipped,
      hyperParameters,
      close: async () => z.zip.close(),
    };
  } catch (e) {
    z.zip.close();
    throw e;
  }
}

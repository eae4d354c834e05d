/**
 * A restricted unpickler for PyTorch state dicts: a weight file is data, and reading it must never
 * run code. It implements the binary opcodes (protocols 2 to 5) that `torch.save` writes and knows
 * a handful of globals, each replaced by a JavaScript function of our own:
 *
 *   collections.OrderedDict                 -> Map
 *   torch._utils._rebuild_tensor_v2         -> TensorRef (storage, offset, size, stride); values stay on disk
 *   torch._utils._rebuild_tensor, _rebuild_parameter -> the same (a Parameter is its data)
 *   torch.<Dtype>Storage (persistent ids)   -> StorageRef (the zip entry `data/<key>`)
 *   builtins.set / frozenset, _codecs.encode (how protocol 2 writes bytes) -> arrays, strings
 *
 * Any other global (`os.system`, `builtins.eval`, a user class...) is never looked up or called:
 * it becomes an inert {@link Refused} marker, and calling it (REDUCE, NEWOBJ, BUILD) gives another.
 * The caller decides: a marker where weights are read is an error naming the global (torch.ts);
 * a marker in a Lightning checkpoint's metadata (e.g. `hyper_parameters` holding a user object)
 * only makes that key skipped, with a message naming the global.
 */
import { FprlError } from '../core/errors.js';

/** A storage named by a persistent id: `('storage', torch.FloatStorage, key, location, numel)`. */
export interface StorageRef {
  kind: 'storage';
  /** PyTorch's storage class, e.g. `FloatStorage`. */
  type: string;
  key: string;
  numel: number;
}

/** A tensor view of a storage (values not read). */
export interface TensorRef {
  kind: 'tensor';
  storage: StorageRef;
  offset: number;
  size: number[];
  stride: number[];
}

/** A global the unpickler refuses to resolve, and anything made by calling it. */
export interface Refused {
  kind: 'refused';
  /** `module.name`, e.g. `os.system`. */
  global: string;
}

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | Map<PyKey, PyValue>
  | TensorRef
  | StorageRef
  | Refused
  | PyCallable;
export type PyKey = string | number | bigint | boolean | null;

/** One of our own replacements for an allowed global. */
interface PyCallable {
  kind: 'callable';
  global: string;
  call(args: PyValue[]): PyValue;
}

export const STORAGE_TYPES = [
  'FloatStorage',
  'HalfStorage',
  'BFloat16Storage',
  'DoubleStorage',
  'LongStorage',
  'IntStorage',
  'ShortStorage',
  'CharStorage',
  'ByteStorage',
  'BoolStorage',
] as const;

export function isRefused(v: unknown): v is Refused {
  return typeof v === 'object' && v !== null && (v as Refused).kind === 'refused';
}

export function isTensorRef(v: unknown): v is TensorRef {
  return typeof v === 'object' && v !== null && (v as TensorRef).kind === 'tensor';
}

function ints(v: PyValue, what: string): number[] {
  if (!Array.isArray(v)) throw new Error(`${what} is not a tuple`);
  return v.map((d) => Number(d));
}

function rebuildTensor(args: PyValue[]): PyValue {
  const [storage, offset, size, stride] = args;
  if (isRefused(storage)) return storage;
  if ((storage as StorageRef)?.kind !== 'storage') throw new Error('_rebuild_tensor_v2 without a storage');
  return {
    kind: 'tensor',
    storage: storage as StorageRef,
    offset: Number(offset),
    size: ints(size, 'tensor size'),
    stride: ints(stride, 'tensor stride'),
  };
}

function callable(global: string, call: (args: PyValue[]) => PyValue): PyCallable {
  return { kind: 'callable', global, call };
}

const ALLOWED: Record<string, PyCallable> = Object.fromEntries(
  [
    callable('collections.OrderedDict', (args) => new Map((args[0] as [PyKey, PyValue][] | undefined) ?? [])),
    callable('torch._utils._rebuild_tensor_v2', rebuildTensor),
    callable('torch._utils._rebuild_tensor', rebuildTensor),
    callable('torch._utils._rebuild_parameter', (args) => args[0]),
    callable('builtins.set', (args) => [...((args[0] as PyValue[]) ?? [])]),
    callable('builtins.frozenset', (args) => [...((args[0] as PyValue[]) ?? [])]),
    callable('__builtin__.set', (args) => [...((args[0] as PyValue[]) ?? [])]),
    callable('_codecs.encode', (args) => args[0]),
    ...STORAGE_TYPES.map((t) =>
      callable(`torch.${t}`, () => {
        throw new Error(`torch.${t} can only name a storage type`);
      }),
    ),
  ].map((c) => [c.global, c]),
);

const MARK = Symbol('mark');

/** Decode a pickle from `bytes`. `where` (the file and entry) goes into errors. */
export function unpickle(bytes: Uint8Array, where: string): PyValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder('utf-8');
  const stack: (PyValue | typeof MARK)[] = [];
  const memo = new Map<number, PyValue>();
  let pos = 0;
  const fail = (message: string): never => {
    throw new FprlError(`${message} (pickle offset ${pos})`, {
      where,
      hint: 'fprl reads state dicts saved with torch.save (tensors, dicts, lists, numbers, strings) and nothing else',
    });
  };
  const need = (n: number) => {
    if (pos + n > bytes.length) fail('the pickle ends early: the file is truncated');
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const i32 = () => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const u64 = () => {
    need(8);
    pos += 8;
    const v = view.getBigUint64(pos - 8, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('a length beyond 2^53');
    return Number(v);
  };
  const raw = (n: number) => (need(n), (pos += n), bytes.subarray(pos - n, pos));
  const text = (n: number) => decoder.decode(raw(n));
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('the pickle ends early: the file is truncated');
    const s = decoder.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): PyValue => {
    if (!stack.length) fail('stack underflow: not a valid pickle');
    const v = stack.pop()!;
    if (v === MARK) fail('unexpected mark: not a valid pickle');
    return v as PyValue;
  };
  const top = (): PyValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) fail('stack underflow: not a valid pickle');
    return v as PyValue;
  };
  const popMark = (): PyValue[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) fail('no mark on the stack: not a valid pickle');
    const items = stack.splice(i) as PyValue[];
    items.shift();
    return items;
  };
  const key = (k: PyValue): PyKey => {
    if (k === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof k)) return k as PyKey;
    if (Array.isArray(k)) return JSON.stringify(k.map((x) => (typeof x === 'bigint' ? String(x) : x)));
    if (isRefused(k)) return `<${k.global}>`;
    return fail(`a dict key of an unsupported type`);
  };
  const setItems = (target: PyValue, items: PyValue[]) => {
    if (isRefused(target)) return;
    if (!(target instanceof Map)) fail('SETITEM on something that is not a dict');
    for (let i = 0; i + 1 < items.length; i += 2)
      (target as Map<PyKey, PyValue>).set(key(items[i]), items[i + 1]);
  };
  const append = (target: PyValue, items: PyValue[]) => {
    if (isRefused(target)) return;
    if (!Array.isArray(target)) fail('APPEND on something that is not a list');
    (target as PyValue[]).push(...items);
  };
  const global = (module: string, name: string): PyValue =>
    ALLOWED[`${module}.${name}`] ?? { kind: 'refused', global: `${module}.${name}` };
  const call = (fn: PyValue, args: PyValue): PyValue => {
    if (isRefused(fn)) return fn;
    if ((fn as PyCallable)?.kind !== 'callable') return fail('REDUCE on something that is not callable');
    if (!Array.isArray(args)) return fail('REDUCE arguments are not a tuple');
    try {
      return (fn as PyCallable).call(args);
    } catch (e) {
      return fail(`${(fn as PyCallable).global}: ${(e as Error).message}`);
    }
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP
        return pop();
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x30: // POP
        stack.pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
      case 0x8b: {
        // LONG4
        const n = op === 0x8a ? u8() : u32();
        const b = raw(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (n > 0 && b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(
          v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v,
        );
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        pos += 8;
        stack.push(view.getFloat64(pos - 8, false));
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x54: // BINSTRING
        stack.push(text(i32()));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(text(u8()));
        break;
      case 0x42: // BINBYTES
        stack.push(raw(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(raw(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(raw(u64()).slice());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        append(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        const m = new Map<PyKey, PyValue>();
        setItems(m, popMark());
        stack.push(m);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push([]);
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(popMark());
        break;
      case 0x63: {
        // GLOBAL: "module\nname\n"
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL without strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        pop();
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x62: {
        // BUILD: obj.__setstate__(state); our objects keep no state (an OrderedDict's _metadata is dropped)
        const state = pop();
        const obj = top();
        if (isRefused(state) && !isRefused(obj)) stack[stack.length - 1] = state;
        break;
      }
      case 0x51: {
        // BINPERSID: torch's ('storage', storage_type, key, location, numel)
        const pid = pop();
        if (!Array.isArray(pid) || pid[0] !== 'storage') fail('a persistent id that is not a torch storage');
        const [, type, k, , n] = pid as PyValue[];
        if (isRefused(type)) {
          stack.push(type);
          break;
        }
        const name = (type as PyCallable)?.global?.replace(/^torch\./, '');
        if (!(STORAGE_TYPES as readonly string[]).includes(name)) fail('a storage of an unknown type');
        stack.push({ kind: 'storage', type: name, key: String(k), numel: Number(n) });
        break;
      }
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      default:
        pos = at;
        fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }

  function memoGet(i: number): PyValue {
    if (!memo.has(i)) fail(`memo ${i} used before it was set`);
    return memo.get(i)!;
  }
}

/** Every refused global inside `v` (depth-first, each once). */
export function refusedIn(v: PyValue, out = new Set<string>()): Set<string> {
  if (isRefused(v)) out.add(v.global);
  else if (Array.isArray(v)) for (const x of v) refusedIn(x, out);
  else if (v instanceof Map) for (const x of v.values()) refusedIn(x, out);
  return out;
}

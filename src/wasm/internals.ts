/**
 * Typed access to the parts of `@tensorflow/tfjs-backend-wasm` 4.22 that its public API does not
 * expose but our kernels need: the tensor table (id and heap offset of each tensor), the emscripten
 * module (to call the C++ kernels with our own arguments), and output allocation.
 *
 * Why reach in: the C++ `BatchMatMul` runs XNNPACK only for `[1,M,K] x [1,K,N]` without transposes.
 * To feed it one batch slice at a time without copying, we register extra tensor ids that point
 * into the middle of an existing buffer ("views"). The C++ side treats a tensor as (pointer, size)
 * and frees nothing on `dispose_data` (JS owns the memory), so a view is released by disposing its
 * id alone, never with `backend.disposeData` (which would `free` the parent's memory).
 */
import type * as tf from '@tensorflow/tfjs';

/** One entry of the wasm backend's tensor table. */
export interface WasmTensorData {
  /** Numeric id the C++ side knows the tensor by. */
  id: number;
  /** Byte offset of the data in the wasm heap. */
  memoryOffset: number;
  shape: number[];
  dtype: tf.DataType;
  refCount: number;
}

type CwrapArg = 'number' | 'array';

/** The emscripten module behind the wasm backend. */
export interface WasmModule {
  cwrap(name: string, returnType: null | 'number', argTypes: CwrapArg[]): (...args: unknown[]) => unknown;
  tfjs: {
    registerTensor(id: number, size: number, memoryOffset: number): void;
    disposeData(id: number): void;
  };
  /** The heap; its buffer is replaced when the heap grows, so take views after allocating. */
  HEAPU8: Uint8Array;
}

/** The members of `BackendWasm` used here. */
export interface WasmBackend extends tf.KernelBackend {
  wasm: WasmModule;
  dataIdMap: { get(dataId: object): WasmTensorData | undefined };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** Narrow a kernel's `backend` argument; throws when the internals moved (a tfjs upgrade). */
export function asWasmBackend(backend: unknown): WasmBackend {
  const b = backend as Partial<WasmBackend> | null;
  if (
    !b ||
    typeof b.makeOutput !== 'function' ||
    typeof b.dataIdNextNumber !== 'number' ||
    typeof b.wasm?.cwrap !== 'function' ||
    typeof b.wasm?.tfjs?.registerTensor !== 'function'
  ) {
    throw new Error(
      'fprl fast wasm kernels: the wasm backend internals are not the ones of tfjs-backend-wasm 4.22 ' +
        '(dataIdMap, dataIdNextNumber, wasm.cwrap, wasm.tfjs.registerTensor)',
    );
  }
  return b as WasmBackend;
}

/** Table entry of a tensor (its C++ id and heap offset). */
export function tensorData(backend: WasmBackend, t: tf.TensorInfo): WasmTensorData {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error('fprl fast wasm kernels: tensor is not on the wasm backend');
  return d;
}

/**
 * Register `size` float32 elements at byte `offset` of the heap as a new C++ tensor id (a view,
 * no copy). Release it with {@link disposeView}.
 */
export function makeView(backend: WasmBackend, offset: number, size: number): number {
  const id = backend.dataIdNextNumber++;
  backend.wasm.tfjs.registerTensor(id, size, offset);
  return id;
}

/** Forget a view id on the C++ side (also drops any XNNPACK operator cached on it); frees nothing. */
export function disposeView(backend: WasmBackend, id: number): void {
  backend.wasm.tfjs.disposeData(id);
}

/**
 * The float32 values of `t` in place in the wasm heap (`size` elements, default all of them).
 * Take it after allocating any output: allocation can grow the heap and detach older views.
 */
export function float32View(backend: WasmBackend, t: tf.TensorInfo, size?: number): Float32Array {
  const n = size ?? t.shape.reduce((p, d) => p * d, 1);
  return new Float32Array(backend.wasm.HEAPU8.buffer, tensorData(backend, t).memoryOffset, n);
}

/** A bool tensor's bytes (one per element on wasm) as a view of the heap. */
export function byteView(backend: WasmBackend, t: tf.TensorInfo): Uint8Array {
  const n = t.shape.reduce((p, d) => p * d, 1);
  return new Uint8Array(backend.wasm.HEAPU8.buffer, tensorData(backend, t).memoryOffset, n);
}

/** Bytes of an int32 shape, the way the C++ kernels take shapes. */
export function shapeBytes(shape: readonly number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

/** What a fast kernel needs from its registration: the stock config and an on/off switch. */
export interface FastKernelContext {
  stock: tf.KernelConfig;
  /** false: every call goes to the stock kernel (for before/after measurements). */
  enabled: () => boolean;
}

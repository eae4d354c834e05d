/**
 * Zero-copy `Identity` and same-dtype `Cast` on wasm. The stock kernels copy the data; the cpu
 * backend instead shares it (`incRef`), which is safe because tfjs tensors are immutable (kernels
 * always write fresh outputs; `Variable.assign` swaps data ids). The copies matter for training:
 * the engine clones every tensor a custom gradient saves (`tf.customGrad` -> Identity), and
 * `tf.logSoftmax` casts float32 to float32 — full copies of activations on every step.
 */
import type * as tf from '@tensorflow/tfjs';
import type { FastKernelContext } from './batch-matmul.js';
import type { WasmBackend } from './internals.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

function share(backend: unknown, x: tf.TensorInfo): tf.TensorInfo {
  (backend as WasmBackend & { incRef(dataId: object): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** `Identity` sharing the input's data (strings keep the stock copy). */
export function fastIdentityConfig(ctx: FastKernelContext): tf.KernelConfig {
  const kernelFunc = (args: KernelArgs): tf.TensorInfo => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (!ctx.enabled() || x.dtype === 'string') return ctx.stock.kernelFunc(args) as tf.TensorInfo;
    return share(args.backend, x);
  };
  return {
    kernelName: ctx.stock.kernelName,
    backendName: 'wasm',
    setupFunc: ctx.stock.setupFunc,
    kernelFunc,
  };
}

/** `Cast` that shares the data when the dtype does not change. */
export function fastCastConfig(ctx: FastKernelContext): tf.KernelConfig {
  const kernelFunc = (args: KernelArgs): tf.TensorInfo => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { dtype } = args.attrs as { dtype: tf.DataType };
    if (!ctx.enabled() || x.dtype !== dtype || x.dtype === 'string')
      return ctx.stock.kernelFunc(args) as tf.TensorInfo;
    return share(args.backend, x);
  };
  return {
    kernelName: ctx.stock.kernelName,
    backendName: 'wasm',
    setupFunc: ctx.stock.setupFunc,
    kernelFunc,
  };
}

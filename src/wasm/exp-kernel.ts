/**
 * `Exp` on the native AVX2 kernel (src/native/) when it is built: the stock wasm kernel calls the
 * scalar libm exp (~12 ns per element here), and a Face Transformer step takes the exp of every
 * pixel's 11 logits twice (log-softmax forward and its gradient: 2 x 5.8M values at 256 px,
 * batch 8). Without the addon, or for other dtypes, the stock kernel runs.
 */
import type * as tf from '@tensorflow/tfjs';
import { nativeMatMul } from '../native/index.js';
import { asWasmBackend, float32View } from './internals.js';
import type { FastKernelContext } from './batch-matmul.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

export function fastExpConfig(ctx: FastKernelContext): tf.KernelConfig {
  const { stock } = ctx;
  function kernelFunc(args: KernelArgs): tf.TensorInfo {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const addon = ctx.enabled() && x.dtype === 'float32' ? nativeMatMul() : undefined;
    const size = x.shape.reduce((p, d) => p * d, 1);
    if (!addon || size === 0) return stock.kernelFunc(args) as tf.TensorInfo;
    const backend = asWasmBackend(args.backend);
    const out = backend.makeOutput([...x.shape], 'float32');
    addon.exp(float32View(backend, x), float32View(backend, out));
    return out;
  }
  return { kernelName: stock.kernelName, backendName: 'wasm', setupFunc: stock.setupFunc, kernelFunc };
}

/**
 * Kernels this project registers on the wasm backend (docs/ARCHITECTURE.md, "Fast wasm").
 * `registerWasmKernels()` is called by initBackend after importing tfjs-backend-wasm and before
 * selecting it. It replaces `BatchMatMul` and `_FusedMatMul` with versions that route every call to
 * XNNPACK (src/wasm/batch-matmul.ts), `Transpose` with a faster one (src/wasm/transpose-kernel.ts)
 * and the reductions with versions that use it (src/wasm/reduce-kernel.ts), and makes `Identity`
 * and same-dtype `Cast` zero-copy (src/wasm/identity-kernel.ts), and copies `Slice`/`SplitV` parts
 * straight from the heap (src/wasm/slice-kernel.ts) and `Concat` parts into it (concat-kernel.ts), and runs `Exp`, float32 sums and matMuls on the
 * native AVX2 addon when it is built (src/native/), as is `ArgMax` over the last axis (argmax-kernel.ts),
 * keeping the stock configs for comparison; and it
 * registers the fused element-wise kernels (LayerNorm, GELU, softmax, the per-pixel loss:
 * src/wasm/fused-kernels.ts) that the networks' ops use when src/native/fused.ts says they can run.
 */
import * as tf from '@tensorflow/tfjs';
import { fastBatchMatMulConfig, type FastKernelContext } from './batch-matmul.js';
import { fastFusedMatMulConfig } from './fused-matmul.js';
import { fastCastConfig, fastIdentityConfig } from './identity-kernel.js';
import { fastReduceConfig } from './reduce-kernel.js';
import { fastSliceConfig, fastSplitVConfig } from './slice-kernel.js';
import { fastTransposeConfig } from './transpose-kernel.js';
import { fastExpConfig } from './exp-kernel.js';
import { fastArgMaxConfig } from './argmax-kernel.js';
import { fastConcatConfig } from './concat-kernel.js';
import { registerFusedAdam } from './adam-kernel.js';
import { registerConvKernels } from './conv-kernel.js';
import { registerFusedKernels } from './fused-kernels.js';
import { nativeMatMul } from '../native/index.js';
import { installExactBiasGate } from '../native/fused.js';

/** The kernels replaced on the wasm backend. */
export const FAST_WASM_KERNELS = [
  tf.Transpose,
  tf.BatchMatMul,
  tf._FusedMatMul,
  tf.Sum,
  tf.Mean,
  tf.Max,
  tf.Min,
  tf.Prod,
  tf.Identity,
  tf.Cast,
  tf.Slice,
  tf.SplitV,
  tf.Exp,
  tf.Concat,
  tf.ArgMax,
] as const;
export type FastWasmKernel = (typeof FAST_WASM_KERNELS)[number];

const FACTORIES: Record<FastWasmKernel, (ctx: FastKernelContext) => tf.KernelConfig> = {
  [tf.Transpose]: fastTransposeConfig,
  [tf.BatchMatMul]: fastBatchMatMulConfig,
  [tf._FusedMatMul]: fastFusedMatMulConfig,
  [tf.Sum]: fastReduceConfig,
  [tf.Mean]: fastReduceConfig,
  [tf.Max]: fastReduceConfig,
  [tf.Min]: fastReduceConfig,
  [tf.Prod]: fastReduceConfig,
  [tf.Identity]: fastIdentityConfig,
  [tf.Cast]: fastCastConfig,
  [tf.Slice]: fastSliceConfig,
  [tf.SplitV]: fastSplitVConfig,
  [tf.Exp]: fastExpConfig,
  [tf.Concat]: fastConcatConfig,
  [tf.ArgMax]: fastArgMaxConfig,
};

const stockConfigs = new Map<string, tf.KernelConfig>();
const fastConfigs = new Set<tf.KernelConfig>();
let enabled = true;

/**
 * Replace the wasm matMul kernels with the fast ones. Idempotent. Kernels not registered (the
 * wasm package not imported yet) are skipped; returns the names replaced by this call.
 */
export function registerWasmKernels(): string[] {
  registerFusedAdam();
  registerFusedKernels(() => enabled);
  const replaced: string[] = [];
  for (const name of FAST_WASM_KERNELS) {
    const current = tf.getKernel(name, 'wasm');
    if (!current || fastConfigs.has(current)) continue;
    stockConfigs.set(name, current);
    const fast = FACTORIES[name]({ stock: current, enabled: () => enabled });
    fastConfigs.add(fast);
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(fast);
    // Setup functions run when a backend is selected; if wasm is already active, run ours now.
    if (tf.engine().backendName === 'wasm') fast.setupFunc?.(tf.backend());
    replaced.push(name);
  }
  replaced.push(...registerConvKernels(() => enabled));
  // Products with a bias go to the native matMul, which adds it after the product (see fused-matmul.ts).
  installExactBiasGate(() => enabled && nativeMatMul() !== undefined);
  return replaced;
}

/** Names of the kernels currently replaced on the wasm backend. */
export function fastWasmKernels(): string[] {
  return FAST_WASM_KERNELS.filter((name) => {
    const k = tf.getKernel(name, 'wasm');
    return k !== undefined && fastConfigs.has(k);
  });
}

/**
 * Turn the fast kernels off (every call goes to the stock kernel) or back on, for before/after
 * measurements of whole training steps. Returns the previous setting.
 */
export function setFastWasmKernels(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** The stock wasm kernel config that `name` replaced, if it was replaced. */
export function stockWasmKernel(name: FastWasmKernel): tf.KernelConfig | undefined {
  return stockConfigs.get(name);
}

/**
 * Run the stock wasm kernel `name` on tensors (wasm must be the active backend), as a tensor the
 * caller owns. For side-by-side checks and benchmarks against the replacement.
 */
export function runStockWasmKernel(
  name: FastWasmKernel,
  inputs: Record<string, tf.Tensor>,
  attrs: Record<string, unknown>,
): tf.Tensor {
  const stock = stockConfigs.get(name) ?? tf.getKernel(name, 'wasm');
  if (!stock) throw new Error(`no wasm kernel '${name}' is registered`);
  if (tf.getBackend() !== 'wasm')
    throw new Error(`runStockWasmKernel needs the wasm backend, not ${tf.getBackend()}`);
  const info = stock.kernelFunc({
    inputs,
    backend: tf.backend(),
    attrs: attrs as tf.NamedAttrMap,
  }) as tf.TensorInfo;
  return tf.engine().makeTensorFromTensorInfo(info);
}

/**
 * The fused element-wise kernels' slot, without Node (like ./addon.ts): their names, the switch
 * that turns them off, and {@link canFuse}, which the networks (agents/vit/ops.ts) and the loss
 * (src/parallel/loss.ts) ask before taking a fused path. The kernels themselves are native
 * (src/native/fused.cc) and registered on the wasm backend by src/wasm/fused-kernels.ts, which
 * also installs the gate (addon loaded, fast kernels on, `FPRL_FUSED` not 0). On any other backend,
 * in the browser, or without the addon, nothing is registered and the plain tfjs ops run.
 *
 * The fused kernels round differently from the op-by-op tfjs path (another summation order, one
 * pass instead of rounding every intermediate tensor), so results are reproducible per route, not
 * across routes; a run records the route (`environment.json` backend.fused).
 */
import * as tf from '@tensorflow/tfjs';

/** Kernel names of the fused ops (forward and gradient of each). */
export const FUSED = {
  layerNorm: 'FprlLayerNorm',
  layerNormGrad: 'FprlLayerNormGrad',
  gelu: 'FprlGelu',
  geluGrad: 'FprlGeluGrad',
  softmax: 'FprlSoftmax',
  softmaxGrad: 'FprlSoftmaxGrad',
  pixelLoss: 'FprlPixelLoss',
  pixelLossGrad: 'FprlPixelLossGrad',
  reluBiasGrad: 'FprlReluBiasGrad',
  dropout: 'FprlDropout',
  dropoutGrad: 'FprlDropoutGrad',
  upsample2x: 'FprlUpsample2x',
  upsample2xGrad: 'FprlUpsample2xGrad',
  /** Multi-head self-attention from the qkv product (agents/vit/block.ts), and its gradient. */
  attention: 'FprlAttention',
  attentionGrad: 'FprlAttentionGrad',
} as const;

/** The environment variable that turns the fused kernels off for a process (and its worker threads): `FPRL_FUSED=0`. */
export const FUSED_ENV_VAR = 'FPRL_FUSED';

let gate: (() => boolean) | undefined;
let on = true;

/** src/wasm/fused-kernels.ts says here whether its kernels can run now (once per thread). */
export function installFusedGate(ready: () => boolean): void {
  gate = ready;
}

/** Turn the fused kernels off or back on for this thread (A/B measurements, tests); returns the previous setting. */
export function setFusedKernels(enabled: boolean): boolean {
  const was = on;
  on = enabled;
  return was;
}

/** Whether the fused kernels run on this thread now (registered, addon loaded, not switched off). */
export function fusedKernelsOn(): boolean {
  return on && gate !== undefined && gate();
}

const disabled = new Set<string>();

/**
 * Turn one fused kernel off or back on for this thread (A/B checks of a single kernel: the others
 * stay as they are); returns the previous setting.
 */
export function setFusedKernel(name: (typeof FUSED)[keyof typeof FUSED], enabled: boolean): boolean {
  const was = !disabled.has(name);
  if (enabled) disabled.delete(name);
  else disabled.add(name);
  return was;
}

/** Whether the fused kernel `name` runs on the active backend now. */
export function canFuse(name: (typeof FUSED)[keyof typeof FUSED]): boolean {
  return fusedKernelsOn() && !disabled.has(name) && tf.getKernel(name, tf.getBackend()) !== undefined;
}

/**
 * Whether the engine is recording a tape now (inside `tf.grad`, `engine.gradients` or a kept pass,
 * src/parallel/kept-forward.ts). Outside one, a forward pass may take shortcuts whose forward values
 * are the same bits but whose gradients would be computed in another order (agents/vit/ops.ts).
 */
export function recordingGradients(): boolean {
  return (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
}

let exactBias: (() => boolean) | undefined;

/**
 * src/wasm/kernels.ts says here when the wasm backend's `_FusedMatMul` adds its bias as a separate
 * float32 add after the product (the native matMul's epilogue), not into the accumulator from the
 * start as XNNPACK does.
 */
export function installExactBiasGate(exact: () => boolean): void {
  exactBias = exact;
}

/**
 * Whether `tf.fused.matMul` with a bias gives, on the active backend now, the bits of
 * `tf.add(tf.matMul(a, b), bias)`: on the cpu backend (which runs it so), and on wasm where the
 * native matMul takes it. A forward pass may then move a bias into the product (agents/vit/ops.ts,
 * `pixelHead`) without changing a result.
 */
export function biasEpilogueExact(): boolean {
  const backend = tf.getBackend();
  if (backend === 'cpu') return true;
  return backend === 'wasm' && exactBias !== undefined && exactBias();
}

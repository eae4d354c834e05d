/**
 * The fused element-wise kernels (src/native/fused.cc, bandit.cc) as wasm-backend kernels: LayerNorm,
 * GELU, softmax, dropout, nearest x2 upsampling and the per-pixel log-softmax loss, forward and
 * gradient, and multi-head attention from the qkv product with its gradient. Each reads its operands in
 * place in the wasm heap and writes fresh outputs there. The ops that use them (agents/vit/ops.ts,
 * src/parallel/loss.ts) are tf.customGrad functions that run these kernels when
 * {@link canFuse} says so and their plain tfjs twins otherwise (other backends, the browser, no
 * addon, `FPRL_FUSED=0`), which are also the references of test/wasm/fused.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { nativeMatMul, type NativeAddon } from '../native/index.js';
import { FUSED, FUSED_ENV_VAR, fusedKernelsOn, installFusedGate } from '../native/fused.js';
import { asWasmBackend, byteView, float32View, type WasmBackend } from './internals.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];
interface AttentionAttrs {
  batch: number;
  heads: number;
  scale: number;
}
type Fused = Required<
  Pick<
    NativeAddon,
    | 'layerNorm'
    | 'layerNormGrad'
    | 'gelu'
    | 'geluGrad'
    | 'softmax'
    | 'softmaxGrad'
    | 'pixelLoss'
    | 'pixelLossGrad'
    | 'reluBiasGrad'
    | 'dropoutApply'
    | 'dropoutGrad'
    | 'upsample2x'
    | 'upsample2xGrad'
    | 'attention'
    | 'attentionGrad'
  >
>;

/** The addon when it has the fused kernels (an addon built before fused.cc has not). */
function fusedAddon(): Fused | undefined {
  const addon = nativeMatMul();
  // Every kernel is required: an addon built before one of them (an old build/) runs none of them.
  const all =
    addon?.pixelLossGrad &&
    addon.reluBiasGrad &&
    addon.dropoutApply &&
    addon.dropoutGrad &&
    addon.upsample2x &&
    addon.upsample2xGrad &&
    addon.attention &&
    addon.attentionGrad;
  return all ? (addon as Fused) : undefined;
}

const size = (t: tf.TensorInfo) => t.shape.reduce((p, d) => p * d, 1);

type Alloc = (shapes: number[][], dtypes?: tf.DataType[]) => tf.TensorInfo[];

/**
 * A kernel on the fused addon: `run` gets the addon, the backend, the kernel's arguments and
 * `outputs`, which allocates its outputs (freed again if the addon throws). Views of the heap are
 * taken after allocating: allocation can grow the heap and detach older views.
 */
function fusedKernel(
  kernelName: string,
  run: (
    addon: Fused,
    backend: WasmBackend,
    args: KernelArgs,
    outputs: Alloc,
  ) => tf.TensorInfo | tf.TensorInfo[],
): tf.KernelConfig {
  return {
    kernelName,
    backendName: 'wasm',
    kernelFunc: (args: KernelArgs) => {
      const addon = fusedAddon();
      if (!addon) throw new Error(`${kernelName} needs the native addon with fused.cc (ask canFuse() first)`);
      for (const [name, t] of Object.entries(args.inputs))
        if (t && (t as tf.TensorInfo).dtype !== (name === 'mask' ? 'bool' : 'float32'))
          throw new Error(`${kernelName}: ${name} must be ${name === 'mask' ? 'bool' : 'float32'}`);
      const backend = asWasmBackend(args.backend);
      const outs: tf.TensorInfo[] = [];
      try {
        return run(addon, backend, args, (shapes, dtypes) => {
          shapes.forEach((s, i) => outs.push(backend.makeOutput(s, dtypes?.[i] ?? 'float32')));
          return outs.slice(outs.length - shapes.length);
        });
      } catch (e) {
        for (const o of outs) backend.disposeData(o.dataId);
        throw e;
      }
    },
  };
}

const CONFIGS: tf.KernelConfig[] = [
  fusedKernel(FUSED.layerNorm, (addon, backend, { inputs, attrs }, outputs) => {
    const { x, gamma, beta } = inputs as Record<'x' | 'gamma' | 'beta', tf.TensorInfo>;
    const D = x.shape[x.shape.length - 1];
    const N = size(x) / D;
    const outs = outputs([[...x.shape], [N], [N]]);
    const v = (t: tf.TensorInfo) => float32View(backend, t);
    addon.layerNorm(
      v(x),
      v(gamma),
      v(beta),
      v(outs[0]),
      v(outs[1]),
      v(outs[2]),
      N,
      D,
      (attrs as { eps: number }).eps,
    );
    return outs;
  }),
  fusedKernel(FUSED.layerNormGrad, (addon, backend, { inputs }, outputs) => {
    const { dy, x, mean, rstd, gamma } = inputs as Record<
      'dy' | 'x' | 'mean' | 'rstd' | 'gamma',
      tf.TensorInfo
    >;
    const D = x.shape[x.shape.length - 1];
    const N = size(x) / D;
    const outs = outputs([[...x.shape], [D], [D]]);
    const v = (t: tf.TensorInfo) => float32View(backend, t);
    addon.layerNormGrad(v(dy), v(x), v(mean), v(rstd), v(gamma), v(outs[0]), v(outs[1]), v(outs[2]), N, D);
    return outs;
  }),
  fusedKernel(FUSED.gelu, (addon, backend, { inputs }, outputs) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const [y] = outputs([[...x.shape]]);
    addon.gelu(float32View(backend, x), float32View(backend, y));
    return y;
  }),
  fusedKernel(FUSED.geluGrad, (addon, backend, { inputs }, outputs) => {
    const { x, dy } = inputs as Record<'x' | 'dy', tf.TensorInfo>;
    const [dx] = outputs([[...x.shape]]);
    addon.geluGrad(float32View(backend, x), float32View(backend, dy), float32View(backend, dx));
    return dx;
  }),
  fusedKernel(FUSED.softmax, (addon, backend, { inputs }, outputs) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const n = x.shape[x.shape.length - 1];
    const [y] = outputs([[...x.shape]]);
    addon.softmax(float32View(backend, x), float32View(backend, y), size(x) / n, n);
    return y;
  }),
  fusedKernel(FUSED.softmaxGrad, (addon, backend, { inputs }, outputs) => {
    const { y, dy } = inputs as Record<'y' | 'dy', tf.TensorInfo>;
    const n = y.shape[y.shape.length - 1];
    const [dx] = outputs([[...y.shape]]);
    addon.softmaxGrad(
      float32View(backend, y),
      float32View(backend, dy),
      float32View(backend, dx),
      size(y) / n,
      n,
    );
    return dx;
  }),
  // out [B*T, D] = every head's softmax((q*scale) k^T) v, from qkv [B*T, 3D]; with `keepWeights`
  // also the softmax weights [B*H, T, T] for the gradient.
  fusedKernel(FUSED.attention, (addon, backend, { inputs, attrs }, outputs) => {
    const { qkv } = inputs as { qkv: tf.TensorInfo };
    const { batch, heads, scale, keepWeights } = attrs as unknown as AttentionAttrs & { keepWeights?: boolean };
    const [rows, width] = qkv.shape;
    const tokens = rows / batch;
    const shapes = keepWeights ? [[rows, width / 3], [batch * heads, tokens, tokens]] : [[rows, width / 3]];
    const outs = outputs(shapes);
    addon.attention(
      float32View(backend, qkv),
      float32View(backend, outs[0]),
      keepWeights ? float32View(backend, outs[1]) : null,
      batch,
      tokens,
      heads,
      scale,
    );
    return keepWeights ? outs : outs[0];
  }),
  fusedKernel(FUSED.attentionGrad, (addon, backend, { inputs, attrs }, outputs) => {
    const { qkv, weights, dy } = inputs as Record<'qkv' | 'weights' | 'dy', tf.TensorInfo>;
    const { batch, heads, scale } = attrs as unknown as AttentionAttrs;
    const [dqkv] = outputs([[...qkv.shape]]);
    addon.attentionGrad(
      float32View(backend, qkv),
      float32View(backend, weights),
      float32View(backend, dy),
      float32View(backend, dqkv),
      batch,
      qkv.shape[0] / batch,
      heads,
      scale,
    );
    return dqkv;
  }),
  // [policyTerm, mean entropy] = [-sum(w logp) / normalizer, sum(H) / P], and lse [P].
  fusedKernel(FUSED.pixelLoss, (addon, backend, { inputs, attrs }, outputs) => {
    const { logits, w } = inputs as Record<'logits' | 'w', tf.TensorInfo>;
    const C = logits.shape[logits.shape.length - 1];
    const P = size(logits) / C;
    const outs = outputs([[2], [P]]);
    const stats = new Float64Array(2);
    addon.pixelLoss(
      float32View(backend, logits),
      float32View(backend, w),
      float32View(backend, outs[1]),
      stats,
      P,
      C,
    );
    const normalizer = (attrs as { normalizer: number }).normalizer;
    float32View(backend, outs[0]).set([-stats[0] / normalizer, stats[1] / P]);
    return outs;
  }),
  fusedKernel(FUSED.pixelLossGrad, (addon, backend, { inputs, attrs }, outputs) => {
    const { dy, logits, w, lse } = inputs as Record<'dy' | 'logits' | 'w' | 'lse', tf.TensorInfo>;
    const C = logits.shape[logits.shape.length - 1];
    const P = size(logits) / C;
    const [dz] = outputs([[...logits.shape]]);
    const [g0, g1] = float32View(backend, dy, 2);
    const normalizer = (attrs as { normalizer: number }).normalizer;
    const v = (t: tf.TensorInfo) => float32View(backend, t);
    addon.pixelLossGrad(v(logits), v(w), v(lse), v(dz), P, C, g0 / normalizer, g1 / P);
    return dz;
  }),
  // A ReLU dense layer's backward: [dy * step(y), bias gradient], the exact bits of tfjs's.
  fusedKernel(FUSED.reluBiasGrad, (addon, backend, { inputs }, outputs) => {
    const { dy, y } = inputs as Record<'dy' | 'y', tf.TensorInfo>;
    const M = y.shape[y.shape.length - 1];
    const outs = outputs([[...y.shape], [M]]);
    const v = (t: tf.TensorInfo) => float32View(backend, t);
    addon.reluBiasGrad(v(dy), v(y), v(outs[0]), v(outs[1]), size(y) / M, M);
    return outs;
  }),
  // Inverted dropout: [y = x * (kept ? keep : 0), the decisions as bytes] from the sfc32 words of
  // `state` (agents/vit/random.ts); the gradient reads the bytes.
  fusedKernel(FUSED.dropout, (addon, backend, { inputs, attrs }, outputs) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const { state, threshold, keep } = attrs as unknown as {
      state: Int32Array;
      threshold: number;
      keep: number;
    };
    const [y, mask] = outputs([[...x.shape], [...x.shape]], ['float32', 'bool']);
    addon.dropoutApply(
      Int32Array.from(state),
      float32View(backend, x),
      float32View(backend, y),
      byteView(backend, mask),
      threshold,
      keep,
    );
    return [y, mask];
  }),
  fusedKernel(FUSED.dropoutGrad, (addon, backend, { inputs, attrs }, outputs) => {
    const { dy, mask } = inputs as Record<'dy' | 'mask', tf.TensorInfo>;
    const [dx] = outputs([[...dy.shape]]);
    addon.dropoutGrad(
      float32View(backend, dy),
      byteView(backend, mask),
      float32View(backend, dx),
      (attrs as { keep: number }).keep,
    );
    return dx;
  }),
  // Nearest x2 upsampling of NHWC maps and its gradient (the hybrid decoder, agents/vit/conv-ops.ts).
  fusedKernel(FUSED.upsample2x, (addon, backend, { inputs }, outputs) => {
    const { x } = inputs as { x: tf.TensorInfo };
    const [b, h, w, c] = x.shape;
    const [y] = outputs([[b, 2 * h, 2 * w, c]]);
    addon.upsample2x(float32View(backend, x), float32View(backend, y), b * h, w, c);
    return y;
  }),
  fusedKernel(FUSED.upsample2xGrad, (addon, backend, { inputs }, outputs) => {
    const { dy } = inputs as { dy: tf.TensorInfo };
    const [b, h2, w2, c] = dy.shape;
    const [dx] = outputs([[b, h2 / 2, w2 / 2, c]]);
    addon.upsample2xGrad(float32View(backend, dy), float32View(backend, dx), (b * h2) / 2, w2 / 2, c);
    return dx;
  }),
];

let registered = false;

/** One line for logs and environment.json: whether the fused element-wise kernels run, and why not. */
export function describeFused(): string {
  if (fusedKernelsOn())
    return 'fused native kernels (LayerNorm, GELU, softmax, dropout, upsampling, per-pixel loss)';
  const why =
    process.env[FUSED_ENV_VAR] === '0'
      ? `${FUSED_ENV_VAR}=0`
      : !nativeMatMul()
        ? 'no native addon'
        : !fusedAddon()
          ? 'the addon predates some fused kernels (npm run build:native)'
          : 'switched off';
  return `tfjs ops (fused kernels not used: ${why})`;
}

/**
 * Register the fused kernels on the wasm backend and install the gate of src/native/fused.ts
 * (initBackend does, through registerWasmKernels; idempotent). `enabled`: the fast kernels' switch.
 */
export function registerFusedKernels(enabled: () => boolean): void {
  installFusedGate(() => enabled() && process.env[FUSED_ENV_VAR] !== '0' && fusedAddon() !== undefined);
  if (registered) return;
  for (const config of CONFIGS) tf.registerKernel(config);
  registered = true;
}

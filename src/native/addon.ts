/**
 * The native addon's slot, without Node: its interface, {@link nativeAddon} and
 * {@link withoutNative}. Code that also runs in a browser (rewards/, src/metrics/, agents/vit/)
 * asks here and takes its JS path when the slot is empty; the Node loader (./index.ts, which
 * reads build/Release/fprl_native.node) fills the slot when it is imported, as the backend, the
 * agents and the data-parallel workers do. Results are the same bit for bit either way
 * (test/native/bandit.test.ts), so only speed depends on whether the loader was imported.
 */
/** The addon's exports (each entry point's comment in kernels.cc and bandit.cc says more). */
export interface NativeAddon {
  /**
   * Slice i of `c` ([M,N]) = op(slice aSlice[i] of `a`) @ op(slice bSlice[i] of `b`) + bias, then
   * the activation (tfjs-backend-wasm's codes: 0 linear, 1 relu, 2 relu6, 4 leakyrelu, 5 sigmoid,
   * 6 elu). Throws on any out-of-bounds index or length.
   */
  gemm(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    M: number,
    N: number,
    K: number,
    transposeA: boolean,
    transposeB: boolean,
    aSlice: Int32Array,
    bSlice: Int32Array,
    bias: Float32Array | null,
    activation: number,
    alpha: number,
  ): void;
  /** out[i] = exp(x[i]) within 2 ulp (0 below -87.34, where exp is a denormal; NaN stays NaN). */
  exp(x: Float32Array, out: Float32Array): void;
  /** out[i] = first index of the largest value of row i of x [rows, cols] (tfjs's ArgMax loop). */
  argMax?(x: Float32Array, out: Int32Array, cols: number): void;
  /** x viewed as [pre, R, post]: out[p, j] = scale * sum over r of x[p, r, j] (fixed order). */
  sum(x: Float32Array, out: Float32Array, pre: number, R: number, post: number, scale: number): void;
  // The hot loops of a REINFORCE step (bandit.cc): the same arithmetic as the JS beside each
  // caller, bit for bit (agents/nets/sampling.ts, agents/advantage.ts, rewards/credit.ts,
  // src/metrics/count.ts).
  sample(probs: Float32Array, u: Float64Array, C: number, k: number, out: Int32Array): void;
  policyWeights(
    actions: Int32Array,
    values: Float32Array,
    perPixel: boolean,
    K: number,
    B: number,
    P: number,
    C: number,
    mask: Uint8Array | null,
    inv: number,
    out: Float32Array,
  ): void;
  rlooBaseline(signal: Float32Array, K: number, n: number, base: Float32Array): void;
  /** BulkRandom.dropoutMask's sfc32 loop (agents/vit/random.ts), advancing `state`. */
  dropoutMask(state: Int32Array, out: Float32Array, threshold: number, keep: number): void;
  /** dropoutMask's draws applied in one pass: y = x * (kept ? keep : 0), the decisions in `mask` (an addon built before has none). */
  dropoutApply?(
    state: Int32Array,
    x: Float32Array,
    y: Float32Array,
    mask: Uint8Array,
    threshold: number,
    keep: number,
  ): void;
  /** dx = dy * (mask ? keep : 0). */
  dropoutGrad?(dy: Float32Array, mask: Uint8Array, dx: Float32Array, keep: number): void;
  /** Nearest x2 upsampling of NHWC maps: x [rows = B*H, W, C] -> y [B, 2H, 2W, C]. */
  upsample2x?(x: Float32Array, y: Float32Array, rows: number, W: number, C: number): void;
  /** Its gradient: dx [rows, W, C] from dy [B, 2H, 2W, C], each 2x2 block summed as the concats' gradient adds. */
  upsample2xGrad?(dy: Float32Array, dx: Float32Array, rows: number, W: number, C: number): void;
  advantageStats(
    signal: Float32Array,
    base: Float32Array,
    K: number,
    n: number,
    mask: Uint8Array | null,
    adv: Float32Array,
    stats: Float64Array,
  ): void;
  normalizeAdvantages(
    adv: Float32Array,
    K: number,
    n: number,
    mask: Uint8Array | null,
    mean: number,
    scale: number,
  ): void;
  /** differenceCredit's lookups: out[i] = table[a*C+b]; stops at a missing pair (returns it) or -1. */
  pairCredit(
    pred: Int32Array,
    target: Int32Array,
    C: number,
    ignore: number,
    table: Float64Array,
    out: Float32Array,
    from: number,
  ): number;
  /** Adds confusion counts into out[t*C + p]; returns the first pixel with a bad label (out then partial), or -1. */
  confusion(pred: Int32Array, target: Int32Array, C: number, ignore: number, out: Float64Array): number;
  /** One Adam step (src/wasm/adam-kernel.ts): w, g, m, v in; w', m', v' out. */
  adam(
    w: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    wOut: Float32Array,
    mOut: Float32Array,
    vOut: Float32Array,
    scalars: Float64Array,
    l2: boolean,
    decoupled: boolean,
  ): void;
  /**
   * The convolutions' data movement (conv.cc; src/wasm/im2col.ts has the geometry and the same
   * loops in TypeScript, bit for bit). Optional: an addon built before conv.cc lacks them, and the
   * TypeScript loops run then.
   */
  im2col?(x: Float32Array, cols: Float32Array, geometry: Int32Array, p0: number, rows: number): void;
  /** Adds the patches back into dx (the input gradient). */
  col2im?(cols: Float32Array, dx: Float32Array, geometry: Int32Array, p0: number, rows: number): void;
  /**
   * Direct convolutions (direct-conv.cc), the same geometry plus the output channels O:
   * y = conv2d(x, w) for NHWC x and HWIO w, any padding, stride and dilation. Optional: older
   * builds lack them (the im2col route runs then).
   */
  convForward?(x: Float32Array, w: Float32Array, y: Float32Array, geometry: Int32Array, O: number): void;
  /** dx from dy and w (stride 1 only). */
  convInputGradient?(
    dy: Float32Array,
    w: Float32Array,
    dx: Float32Array,
    geometry: Int32Array,
    O: number,
  ): void;
  /** dw from x and dy (O a multiple of 8). */
  convFilterGradient?(
    x: Float32Array,
    dy: Float32Array,
    dw: Float32Array,
    geometry: Int32Array,
    O: number,
  ): void;
  /**
   * The fused element-wise kernels (fused.cc; src/wasm/fused-kernels.ts registers them, and
   * src/native/fused.ts says when they run). Optional: an addon built before fused.cc lacks them.
   * layerNorm over the last axis of x [N,D]: y, and the row means and 1/std [N] for the gradient.
   */
  layerNorm?(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    N: number,
    D: number,
    eps: number,
  ): void;
  /** dx [N,D], dgamma and dbeta [D] of {@link layerNorm} from dy [N,D]. */
  layerNormGrad?(
    dy: Float32Array,
    x: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    gamma: Float32Array,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
    N: number,
    D: number,
  ): void;
  /** y = x Phi(x), erf as Abramowitz & Stegun 7.1.26 (agents/vit/ops.ts's gelu). */
  gelu?(x: Float32Array, y: Float32Array): void;
  /** dx = dy * (Phi(x) + x phi(x)). */
  geluGrad?(x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  /** Softmax over the last axis of x [rows, n]. */
  softmax?(x: Float32Array, y: Float32Array, rows: number, n: number): void;
  /** dx = y * (dy - sum(dy * y)) per row. */
  softmaxGrad?(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, n: number): void;
  /**
   * Multi-head self-attention: qkv [batch*tokens, 3*D] (q, k, v side by side) -> out
   * [batch*tokens, D], per image and head softmax((q*scale) k^T) v with the bits of the matMul and
   * softmax kernels (fused.cc); weights [batch*heads, tokens, tokens] gets the softmax weights
   * (null: not kept, an inference pass).
   */
  attention?(
    qkv: Float32Array,
    out: Float32Array,
    weights: Float32Array | null,
    batch: number,
    tokens: number,
    heads: number,
    scale: number,
  ): void;
  /** d(qkv) [batch*tokens, 3*D] of {@link attention} from qkv, its weights and d(out): the taped ops' bits. */
  attentionGrad?(
    qkv: Float32Array,
    weights: Float32Array,
    dy: Float32Array,
    dqkv: Float32Array,
    batch: number,
    tokens: number,
    heads: number,
    scale: number,
  ): void;
  /**
   * Log-softmax of z [P,C] per pixel: stats[0] = sum(w * logp), stats[1] = sum over pixels of the
   * entropy -sum(p * logp) (float64); lse [P] = log-sum-exp per pixel, for the gradient.
   */
  pixelLoss?(
    z: Float32Array,
    w: Float32Array,
    lse: Float32Array,
    stats: Float64Array,
    P: number,
    C: number,
  ): void;
  /** dz = a (p sum(w) - w) - b p (logp + H): the gradient of a (-sum(w logp)) + b sum(H). */
  pixelLossGrad?(
    z: Float32Array,
    w: Float32Array,
    lse: Float32Array,
    dz: Float32Array,
    P: number,
    C: number,
    a: number,
    b: number,
  ): void;
  /** dx = dy * step(y) and dbias = column sums of dx over [N,M] (bit for bit tfjs's fused matMul gradient). */
  reluBiasGrad?(
    dy: Float32Array,
    y: Float32Array,
    dx: Float32Array,
    dbias: Float32Array,
    N: number,
    M: number,
  ): void;
  /**
   * count runs of `run` bytes within one buffer (the wasm heap): run i from byte src + i*srcStride
   * to dst + i*dstStride (conv.cc; Slice, SplitV and Concat on wasm). Optional: older builds lack it.
   */
  copyRuns?(
    heap: Uint8Array,
    src: number,
    srcStride: number,
    dst: number,
    dstStride: number,
    run: number,
    count: number,
  ): void;
  /** dst[i] += src[i] (float32), in place. */
  addInto(dst: Float32Array, src: Float32Array): void;
  /** Keep freed large blocks in glibc's heap for reuse (no page faults); false where not glibc. */
  keepLargeBlocks(): boolean;
  /** Whether this CPU can run the kernels (AVX2 and FMA). */
  supported: boolean;
  /** Instruction set the kernel was written for. */
  isa: string;
}

let loader: (() => NativeAddon | undefined) | undefined;
let loaded: { addon?: NativeAddon } | undefined;
let suspended = 0;

/** Give the slot its loader (src/native/index.ts does, once per thread); it runs at the first ask. */
export function installNativeLoader(load: () => NativeAddon | undefined): void {
  loader = load;
  loaded = undefined;
}

/** The addon when a loader is installed and it loaded (built, supported CPU, FPRL_NATIVE not 0). */
export function nativeAddon(): NativeAddon | undefined {
  if (suspended || !loader) return undefined;
  loaded ??= { addon: loader() };
  return loaded.addon;
}

/**
 * Run `fn` as if the addon were not built (every caller takes its JS path): for tests that the
 * native loops give the JS results, and for before/after measurements.
 */
export function withoutNative<T>(fn: () => T): T {
  suspended++;
  try {
    return fn();
  } finally {
    suspended--;
  }
}

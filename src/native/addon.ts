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

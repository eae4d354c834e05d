/**
 * The optional native addon (src/native/*.cc, built by `npm install` into
 * build/Release/fprl_native.node). The wasm backend's matMul, exp and sum kernels use it when it
 * loads and the CPU has AVX2 + FMA; otherwise they keep XNNPACK and the stock kernels
 * (src/wasm/). The hot loops of a REINFORCE step use it too, with results identical to their JS.
 * `FPRL_NATIVE=0` turns it off for a process, {@link setNativeMatMul} the kernels for a stretch of
 * code (before/after measurements). Loading is lazy and happens once per thread (each
 * data-parallel worker thread loads its own copy).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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

export const NATIVE_ENV_VAR = 'FPRL_NATIVE';
const ADDON = path.join('build', 'Release', 'fprl_native.node');

interface LoadResult {
  addon?: NativeAddon;
  /** Why it is not used, when it is not. */
  reason?: string;
  file?: string;
}

let loaded: LoadResult | undefined;
let enabled = true;
let suspended = 0;

/** The package root: the nearest folder above this file with binding.gyp (src/ and dist/src/ alike). */
function packageRoot(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'binding.gyp'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

function load(): LoadResult {
  if (process.env[NATIVE_ENV_VAR] === '0') return { reason: `${NATIVE_ENV_VAR}=0` };
  const root = packageRoot();
  const file = root && path.join(root, ADDON);
  if (!file || !fs.existsSync(file)) return { reason: `${ADDON} not built (npm run build:native builds it)` };
  try {
    const addon = createRequire(import.meta.url)(file) as NativeAddon;
    // Let glibc reuse freed large blocks instead of unmapping them (see addon.cc): fresh pages for
    // the tens of MB of typed arrays of every REINFORCE step cost more than the loops over them.
    if (process.env.FPRL_KEEP_BLOCKS !== '0') addon.keepLargeBlocks();
    if (!addon.supported)
      return { reason: `this CPU lacks ${addon.isa === 'none' ? 'an x86-64 kernel' : addon.isa}`, file };
    return { addon, file };
  } catch (e) {
    return { reason: `${ADDON} failed to load: ${(e as Error).message.split('\n')[0]}`, file };
  }
}

/** The addon when it is built, loadable and supported by this CPU (and FPRL_NATIVE is not 0). */
export function nativeAddon(): NativeAddon | undefined {
  if (suspended) return undefined;
  loaded ??= load();
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

/** The addon for the wasm backend's kernels: {@link nativeAddon} unless switched off here. */
export function nativeMatMul(): NativeAddon | undefined {
  return enabled ? nativeAddon() : undefined;
}

/** One line for logs and environment.json: what runs the wasm backend's matMuls, and why. */
export function describeMatMul(): string {
  loaded ??= load();
  if (loaded.addon && enabled) return `native ${loaded.addon.isa} (${ADDON})`;
  const why = loaded.addon ? 'switched off' : loaded.reason;
  return `XNNPACK wasm SIMD (native matMul not used: ${why})`;
}

/**
 * Switch the native kernels of the wasm backend off or back on for this thread (before/after
 * measurements); returns the previous setting. The REINFORCE loops are unaffected: they give the
 * same numbers either way.
 */
export function setNativeMatMul(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

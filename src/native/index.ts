/**
 * The optional native matMul (src/native/fprl_native.cc, built by `npm install` into
 * build/Release/fprl_native.node). The wasm backend's matMul kernels use it when it loads and the
 * CPU has AVX2 + FMA; otherwise they keep XNNPACK (src/wasm/batch-matmul.ts). `FPRL_NATIVE=0`
 * turns it off for a process, {@link setNativeMatMul} for a stretch of code (before/after
 * measurements). Loading is lazy and happens once per thread (each data-parallel worker thread
 * loads its own copy).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's exports (see the comment above `Gemm` in fprl_native.cc). */
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
  /** Whether this CPU can run the kernel (AVX2 and FMA). */
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
    if (!addon.supported)
      return { reason: `this CPU lacks ${addon.isa === 'none' ? 'an x86-64 kernel' : addon.isa}`, file };
    return { addon, file };
  } catch (e) {
    return { reason: `${ADDON} failed to load: ${(e as Error).message.split('\n')[0]}`, file };
  }
}

/** The addon when it is built, loadable, supported by this CPU and switched on; else undefined. */
export function nativeMatMul(): NativeAddon | undefined {
  if (!enabled) return undefined;
  loaded ??= load();
  return loaded.addon;
}

/** One line for logs and environment.json: what runs the wasm backend's matMuls, and why. */
export function describeMatMul(): string {
  loaded ??= load();
  if (loaded.addon && enabled) return `native ${loaded.addon.isa} (${ADDON})`;
  const why = loaded.addon ? 'switched off' : loaded.reason;
  return `XNNPACK wasm SIMD (native matMul not used: ${why})`;
}

/** Switch the native matMul off or back on for this thread; returns the previous setting. */
export function setNativeMatMul(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

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
import { installNativeLoader, nativeAddon, withoutNative, type NativeAddon } from './addon.js';

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

function loadOnce(): LoadResult {
  loaded ??= load();
  return loaded;
}

// This module is the Node loader of the slot in ./addon.ts: importing it makes the addon available.
installNativeLoader(() => loadOnce().addon);

export { nativeAddon, withoutNative, installNativeLoader, type NativeAddon };

/** The addon for the wasm backend's kernels: {@link nativeAddon} unless switched off here. */
export function nativeMatMul(): NativeAddon | undefined {
  return enabled ? nativeAddon() : undefined;
}

/** One line for logs and environment.json: what runs the wasm backend's matMuls, and why. */
export function describeMatMul(): string {
  const { addon, reason } = loadOnce();
  if (addon && enabled) return `native ${addon.isa} (${ADDON})`;
  const why = addon ? 'switched off' : reason;
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

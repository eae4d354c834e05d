/**
 * The page's tfjs backend: WebGPU, then WebGL, then wasm (then cpu), the first this browser
 * initialises; `?backend=<name>` in the page's URL pins one (tests pin the backend whose numbers
 * they compare). The page shows which one runs.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

export const BACKEND_LADDER = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;

/** Set the first backend that initialises; returns its name and why the ones above it were skipped. */
export async function chooseBackend(pinned?: string): Promise<{ name: string; skipped: string[] }> {
  // The wasm binaries sit next to app.js (copied there by the build).
  setWasmPaths(new URL('./', document.baseURI).href);
  const ladder = pinned ? [pinned] : [...BACKEND_LADDER];
  const skipped: string[] = [];
  for (const name of ladder) {
    if (name === 'webgpu' && !('gpu' in navigator)) {
      skipped.push('webgpu (no navigator.gpu)');
      continue;
    }
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return { name, skipped };
      }
      skipped.push(`${name} (did not initialise)`);
    } catch (e) {
      skipped.push(`${name} (${(e as Error).message})`);
    }
  }
  throw new Error(`no tfjs backend initialised: ${skipped.join('; ')}`);
}

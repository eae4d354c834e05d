/**
 * The backend ladder. `auto` tries, in order: tfjs-node-gpu, tfjs-node (both register the
 * `tensorflow` backend; optional peer packages installed with `npm run accel:gpu|cpu`), then
 * wasm (with this project's fast kernels, see src/wasm/), then the pure-JS cpu backend.
 * A missing or broken native package falls through with a one-line note, never a crash.
 */
import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import { createRequire } from 'node:module';
import { FprlError } from '../core/errors.js';
import { registerWasmKernels } from '../wasm/kernels.js';
import { describeFused } from '../wasm/fused-kernels.js';
import { describeMatMul } from '../native/index.js';
import { registerFastGradients } from './gradients.js';
import { prepareWasmThreads, requestedWasmThreads, wasmThreadsCount } from '../wasm/threads.js';

export const BACKEND_CHOICES = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
export const BACKEND_ENV_VAR = 'FPRL_BACKEND';

export interface BackendInfo {
  /** tfjs backend name: 'tensorflow' | 'wasm' | 'cpu' */
  backend: string;
  /** Which package or ladder rung gave it, e.g. '@tensorflow/tfjs-node-gpu'. */
  provider: string;
  /** Threads the backend computes with in this process. */
  threads: number;
  /** One line per rung that was tried and skipped. */
  notes: string[];
  /**
   * What runs the matMuls on the wasm backend: the native AVX2 kernel (src/native/) or XNNPACK,
   * with the reason; absent on other backends.
   */
  matMul?: string;
  /** Whether the fused element-wise kernels run on wasm (src/wasm/fused-kernels.ts); absent on other backends. */
  fused?: string;
  tfjsVersion: string;
}

let current: BackendInfo | undefined;

const require = createRequire(import.meta.url);

async function tryNative(pkg: string, notes: string[]): Promise<boolean> {
  try {
    require.resolve(pkg);
  } catch {
    notes.push(`${pkg} not installed (npm run ${pkg.endsWith('gpu') ? 'accel:gpu' : 'accel:cpu'} adds it)`);
    return false;
  }
  try {
    await import(pkg);
    await tf.setBackend('tensorflow');
    await tf.ready();
    return true;
  } catch (e) {
    notes.push(`${pkg} is installed but failed to load: ${(e as Error).message.split('\n')[0]}`);
    return false;
  }
}

async function tryWasm(notes: string[]): Promise<boolean> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    registerWasmKernels();
    // Threads are chosen when the backend is first created (opt-in: FPRL_WASM_THREADS, src/wasm/threads.ts).
    const restore = tf.findBackend('wasm') ? () => {} : prepareWasmThreads(requestedWasmThreads());
    let ok: boolean;
    try {
      ok = await tf.setBackend('wasm');
    } finally {
      restore();
    }
    if (!ok) throw new Error('tf.setBackend("wasm") returned false');
    await tf.ready();
    return true;
  } catch (e) {
    notes.push(`wasm backend failed to start: ${(e as Error).message.split('\n')[0]}`);
    return false;
  }
}

function resolveChoice(choice?: string): BackendChoice {
  const raw = choice ?? process.env[BACKEND_ENV_VAR] ?? 'auto';
  if (!(BACKEND_CHOICES as readonly string[]).includes(raw)) {
    throw new FprlError(`unknown backend '${raw}'`, {
      where: choice === undefined ? `environment variable ${BACKEND_ENV_VAR}` : '--backend',
      hint: `choose one of: ${BACKEND_CHOICES.join(', ')}`,
    });
  }
  return raw as BackendChoice;
}

/**
 * Select and initialise the compute backend. Idempotent for the same choice.
 * An explicit choice that is not available is an error (the user asked for it);
 * `auto` falls through the ladder.
 */
export async function initBackend(choice?: string): Promise<BackendInfo> {
  const want = resolveChoice(choice);
  registerFastGradients();
  const notes: string[] = [];
  let provider: string | undefined;

  const ladder: BackendChoice[] = want === 'auto' ? ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] : [want];
  for (const rung of ladder) {
    if (rung === 'tensorflow-gpu' && (await tryNative('@tensorflow/tfjs-node-gpu', notes))) {
      provider = '@tensorflow/tfjs-node-gpu';
    } else if (rung === 'tensorflow' && (await tryNative('@tensorflow/tfjs-node', notes))) {
      provider = '@tensorflow/tfjs-node';
    } else if (rung === 'wasm' && (await tryWasm(notes))) {
      provider = '@tensorflow/tfjs-backend-wasm';
    } else if (rung === 'cpu') {
      await tf.setBackend('cpu');
      await tf.ready();
      provider = '@tensorflow/tfjs (cpu)';
    }
    if (provider) break;
  }
  if (!provider) {
    throw new FprlError(`backend '${want}' is not available here`, {
      where: '--backend',
      hint: `${notes.join('; ')}. Use --backend auto to take the best available one.`,
    });
  }
  const backend = tf.getBackend();
  current = {
    backend,
    provider,
    threads:
      backend === 'tensorflow' ? os.availableParallelism() : backend === 'wasm' ? wasmThreadsCount() : 1,
    notes,
    ...(backend === 'wasm' ? { matMul: describeMatMul(), fused: describeFused() } : {}),
    tfjsVersion: tf.version.tfjs,
  };
  return current;
}

/** The backend chosen by the last {@link initBackend}, if any. */
export function backendInfo(): BackendInfo | undefined {
  return current;
}

/** One line for the start of a command: `backend: wasm (1 thread) via ...`. */
export function describeBackend(info: BackendInfo): string {
  const head =
    `backend: ${info.backend} (${info.threads} thread${info.threads === 1 ? '' : 's'}) via ${info.provider}` +
    (info.matMul ? `; matMul: ${info.matMul}` : '') +
    (info.fused ? `; element-wise: ${info.fused}` : '');
  return info.notes.length ? `${head}\n${info.notes.map((n) => `  note: ${n}`).join('\n')}` : head;
}

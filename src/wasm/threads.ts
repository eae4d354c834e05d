/**
 * Multi-threaded wasm in Node (opt-in). tfjs-backend-wasm ships a threaded SIMD build whose XNNPACK
 * thread pool splits each matMul over cores, but tfjs turns it off in Node
 * (tensorflow/tfjs#3830): its loader hands emscripten a `blob:` URL for the pthread worker script,
 * which Node's worker_threads cannot load, and the C++ caps the pool at half of `os.cpus()`
 * ("hyper-threads"). {@link prepareWasmThreads} works around both for the duration of the wasm
 * backend's initialisation: the worker script is written once to the temp folder (named by its
 * hash) with the main script's path filled in, `URL.createObjectURL` returns that path for the
 * script's Blob, and `os.cpus()` reports twice the wanted count. Everything is restored afterwards.
 *
 * Measured here: one 1024^3 matMul on 2 threads is ~1.8x faster on idle cores, but slower than one
 * thread when other processes load the cores (the pool waits at every operator for a descheduled
 * thread). Hence opt-in: `FPRL_WASM_THREADS=N` or `fprl bench --wasm-threads N`.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomicSync } from '../core/atomic.js';

const require = createRequire(import.meta.url);
export const WASM_THREADS_ENV_VAR = 'FPRL_WASM_THREADS';

let requested: number | undefined;

/** Ask for `n` wasm threads at the next wasm initialisation (overrides `FPRL_WASM_THREADS`). */
export function requestWasmThreads(n: number | undefined): void {
  requested = n;
}

/** The threads asked for by {@link requestWasmThreads} or `FPRL_WASM_THREADS` (default 1). */
export function requestedWasmThreads(): number {
  const raw = requested !== undefined ? String(requested) : process.env[WASM_THREADS_ENV_VAR];
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 8) {
    throw new Error(`wasm threads (${WASM_THREADS_ENV_VAR}) must be an integer from 1 to 8, got '${raw}'`);
  }
  return n;
}

/** The patched pthread worker script, written once per content to the temp folder; its path. */
function workerScript(): string {
  const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const mainScript = path.join(dir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  const { wasmWorkerContents } = require(
    path.join(dir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js'),
  ) as {
    wasmWorkerContents: string;
  };
  // As tfjs does before making its Blob: the template literal turned "\n" escapes into newlines.
  const source = wasmWorkerContents.replace(/\n/g, '\\n');
  const load =
    'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}else{var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)}';
  if (!source.includes(load)) {
    throw new Error(
      'the tfjs-backend-wasm pthread worker script is not the one of 4.22 (its load step moved)',
    );
  }
  // The main script reaches the worker as a Blob, which Node cannot import: read it from disk.
  const patched = source.replace(load, `importScripts(${JSON.stringify(mainScript)});`);
  const hash = createHash('sha256').update(patched).digest('hex').slice(0, 16);
  const file = path.join(os.tmpdir(), `fprl-tfjs-wasm-pthread-${hash}.cjs`);
  if (!fs.existsSync(file)) writeFileAtomicSync(file, patched);
  return file;
}

/**
 * Make the next initialisation of the wasm backend use the threaded build with `threads` threads.
 * Call before the first `tf.setBackend('wasm')` and call the returned function right after it.
 * `threads <= 1` changes nothing.
 */
export function prepareWasmThreads(threads: number): () => void {
  if (threads <= 1) return () => {};
  if (typeof SharedArrayBuffer === 'undefined') throw new Error('wasm threads need SharedArrayBuffer');
  const wasm = require('@tensorflow/tfjs-backend-wasm') as { setThreadsCount(n: number): void };
  const file = workerScript();
  const createObjectURL = URL.createObjectURL;
  const cpus = os.cpus;
  URL.createObjectURL = ((obj: Blob) =>
    obj instanceof Blob && obj.type === 'application/javascript'
      ? file
      : createObjectURL(obj)) as typeof createObjectURL;
  // The C++ uses min(requested, cpus / 2) threads.
  os.cpus = () => {
    const real = cpus.call(os);
    return Array.from({ length: 2 * threads }, (_, i) => real[i % real.length]);
  };
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);
  return () => {
    URL.createObjectURL = createObjectURL;
    os.cpus = cpus;
    unrefWorkers();
  };
}

/**
 * Let the process exit while pool threads idle: emscripten `ref()`s the worker of a running
 * pthread, and XNNPACK's pool threads run for the life of the backend.
 */
function unrefWorkers(): void {
  const backend = tf.findBackend('wasm') as unknown as {
    wasm?: { PThread?: Record<string, unknown> };
  } | null;
  const pthread = backend?.wasm?.PThread;
  if (!pthread) return;
  const workers = [
    ...((pthread.runningWorkers as { unref?: () => void }[] | undefined) ?? []),
    ...((pthread.unusedWorkers as { unref?: () => void }[] | undefined) ?? []),
  ];
  for (const w of workers) w.unref?.();
}

/** Threads the initialised wasm backend computes with (1 for the single-threaded build). */
export function wasmThreadsCount(): number {
  const wasm = require('@tensorflow/tfjs-backend-wasm') as { getThreadsCount(): number };
  try {
    return Math.max(1, wasm.getThreadsCount());
  } catch {
    return 1;
  }
}

/**
 * A gradient worker (node:worker_threads): its own tfjs backend and a replica of the policy.
 * It loads the broadcast weights when their version changes, computes its shard's gradients into
 * its shared buffer or a forward pass, and answers. It never updates weights itself: the main
 * thread applies the one update and broadcasts the result, so replicas cannot drift apart.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend/backend.js';
import { Rng } from '../core/rng.js';
import type { PolicyNet } from '../core/types.js';
import { buildPolicy } from './spec.js';
import { copyValues } from './heap.js';
import { forwardShard, shardLoss, type HeadVariables, type KeptPass } from './loss.js';
import type { FromWorker, InitMessage, ToWorker } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('src/parallel/worker.ts runs only as a worker thread');

let policy: PolicyNet | undefined;
let init: InitMessage | undefined;
let version = -1;
let offsets: number[] = [];
/** The forward pass kept by the last forward message with `keep`, for the next grad message. */
let kept: { id: number; pass: KeptPass } | undefined;

function takeKept(id: number | undefined): KeptPass | undefined {
  const k = kept;
  kept = undefined;
  if (k && k.id === id) return k.pass;
  k?.pass.dispose();
  return undefined;
}

const send = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

function loadWeights(v: number): void {
  if (v === version) return;
  const buf = new Float32Array(init!.weights);
  // wasm copies a view into its heap at once; other backends may keep the array, so they get a copy.
  const copy = tf.getBackend() !== 'wasm';
  policy!.trainableVariables.forEach((variable, i) => {
    const view = buf.subarray(offsets[i], offsets[i] + variable.size);
    const values = copy ? view.slice() : view;
    tf.tidy(() => variable.assign(tf.tensor(values, variable.shape)));
  });
  version = v;
}

async function handle(m: ToWorker): Promise<void> {
  if (m.type === 'close') {
    takeKept(undefined);
    policy?.dispose();
    port!.close();
    return;
  }
  if (m.type === 'init') {
    init = m;
    await initBackend(m.backend);
    policy = buildPolicy(m.spec);
    const sizes = policy.trainableVariables.map((v) => v.size);
    offsets = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    send({ type: 'ready', sizes });
    return;
  }
  // New weights make a kept pass stale (the pool never asks for one then; this is the guard).
  if (m.version !== version) takeKept(undefined);
  loadWeights(m.version);
  const images = tf.tensor4d(m.images, m.shape);
  try {
    if (m.type === 'forward') {
      if (m.keep) takeKept(undefined);
      const { out, pooled, kept: pass } = forwardShard(policy!, images, m.mode, {
        pooled: m.pooled,
        uniforms: m.uniforms,
        samples: m.samples,
        keep: m.keep,
      });
      if (pass) kept = { id: m.id, pass };
      const transfer = [out.buffer as ArrayBuffer, ...(pooled ? [pooled.buffer as ArrayBuffer] : [])];
      send({ type: 'forward', id: m.id, out, ...(pooled ? { pooled } : {}) }, transfer);
      return;
    }
    const pass = takeKept(m.keptId);
    const rng = m.rng ? Rng.fromState(m.rng) : undefined;
    // A replica of the value head for this call (its gradients are read back, never applied here).
    const head: HeadVariables | undefined = m.head
      ? tf.tidy(() => ({
          kernel: tf.variable(tf.tensor2d(m.head!.kernel, [m.head!.kernel.length, 1]), true),
          bias: tf.variable(tf.tensor1d([m.head!.bias]), true),
        }))
      : undefined;
    try {
      const spec = { weights: m.weights, normalizer: m.normalizer, entropyCoef: m.entropyCoef, value: m.value, dropout: rng };
      const r = shardLoss(policy!, images, spec, m.share, head, pass);
      const n = policy!.trainableVariables.length;
      const out = new Float32Array(init!.grads);
      r.grads.slice(0, n).forEach((g, i) => copyValues(g, out, offsets[i]));
      let headGrads: Float32Array | undefined;
      if (head) {
        headGrads = new Float32Array(head.kernel.size + 1);
        headGrads.set(r.grads[n].dataSync() as Float32Array);
        headGrads[head.kernel.size] = r.grads[n + 1].dataSync()[0];
      }
      r.grads.forEach((g) => g.dispose());
      const { loss, policyTerm, entropy, valueLoss } = r;
      send({ type: 'grad', id: m.id, loss, policyTerm, entropy, valueLoss, headGrads });
    } finally {
      if (head) tf.dispose([head.kernel, head.bias]);
      pass?.dispose();
    }
  } finally {
    images.dispose();
  }
}

// One message at a time, in order: the main thread sends the next only after this one's answer.
let queue = Promise.resolve();
port.on('message', (m: ToWorker) => {
  queue = queue
    .then(() => handle(m))
    .catch((e: Error) =>
      send({ type: 'error', id: 'id' in m ? m.id : undefined, message: e.message, stack: e.stack }),
    );
});

/**
 * The executor of every policy learner's loss (src/parallel/loss.ts) and forward passes, on a pool
 * of one thread (the default: no workers, the batch as one shard, exactly the single-thread
 * arithmetic) or of N: the main thread is shard 0 and N-1 worker threads (src/parallel/worker.ts,
 * each with its own tfjs backend and a replica of the policy) take the others. A global batch of
 * B images is split into contiguous shards of floor/ceil(B/N) images; each shard's loss is its
 * part of the global loss, so the batch's gradient is the sum of the shards' gradients, added in
 * shard order 0, 1, ... whatever order the workers finish in: the result does not depend on
 * timing, and N threads agree with one thread up to float summation order.
 *
 * Active threads: `setActive(n)` lets only the main thread and n-1 workers compute; the shards of
 * the idle workers run on the main thread after shard 0, with the same dropout streams, and are
 * summed in the same shard order, so the result is bit-identical whatever the active count (the
 * shards, not the threads, decide the arithmetic). tune.ts picks the count from measured speed.
 *
 * Weights: the caller's agent applies one update on the main thread; before the next call that
 * needs them the main thread writes every variable into a SharedArrayBuffer (skipped when the
 * version is unchanged) and the workers load it. Gradients come back through one
 * SharedArrayBuffer per worker; only small messages are posted.
 *
 * Kept passes: `sample(..., keep)` (REINFORCE) keeps every shard's forward pass, here and in the
 * workers (loss.ts `KeptPass`), and the next `gradients` on the same images at the same weights,
 * shards and active threads, without dropout, differentiates those passes instead of running the
 * forward again: the same gradients bit for bit, one forward pass fewer per learning step. Any
 * other `gradients` call, or a new kept `sample`, drops them; so does {@link releaseKept}.
 */
import * as tf from '@tensorflow/tfjs';
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { PolicyNet } from '../core/types.js';
import { FprlError } from '../core/errors.js';
import { policySpecOf } from './spec.js';
import { addInPlace, copyValues } from './heap.js';
import {
  forwardShard,
  shardLoss,
  shardSpec,
  type ForwardMode,
  type ForwardOptions,
  type HeadVariables,
  type KeptPass,
  type LossResult,
  type LossSpec,
} from './loss.js';
import type { FromWorker, GradMessage, ToWorker } from './protocol.js';

/** Contiguous shards [start, count) of `batch` items over at most `threads` parts, none empty. */
export function shardRanges(batch: number, threads: number): { start: number; count: number }[] {
  const n = Math.max(1, Math.min(threads, batch));
  const out: { start: number; count: number }[] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const count = Math.floor(batch / n) + (i < batch % n ? 1 : 0);
    out.push({ start, count });
    start += count;
  }
  return out;
}

/**
 * A shard's draws out of a batch's `u` [k*N] (draw j of pixel i at j*N + i): for each sample j,
 * the run of its `n` pixels from pixel `from`, packed as [k*n].
 */
export function shardUniforms(u: Float64Array, k: number, N: number, from: number, n: number): Float64Array {
  const out = new Float64Array(k * n);
  for (let j = 0; j < k; j++) out.set(u.subarray(j * N + from, j * N + from + n), j * n);
  return out;
}

/** A worker thread running worker.ts (under tsx when this file is TypeScript source). */
function spawnWorker(): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    // Sources run under tsx: register its loader inside the worker, then import the worker module.
    // The ESM build of tsx's API (require.resolve finds the CommonJS one next to it).
    const api = createRequire(here)
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs');
    const tsx = pathToFileURL(api).href;
    const entry = new URL('./worker.ts', here).href;
    const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
    return new Worker(code, { eval: true });
  }
  return new Worker(new URL('./worker.js', here));
}

interface Pending {
  resolve: (m: FromWorker) => void;
  reject: (e: Error) => void;
}

class WorkerHandle {
  private pending: Pending | undefined;
  private dead: Error | undefined;

  constructor(
    readonly index: number,
    readonly worker: Worker,
    readonly grads: SharedArrayBuffer,
  ) {
    worker.on('message', (m: FromWorker) => {
      const p = this.pending;
      this.pending = undefined;
      if (!p) return;
      if (m.type === 'error') {
        const e = new FprlError(`gradient worker ${index} failed: ${m.message}`, {
          where: 'training.threads',
          hint: 'run with threads 1 to see the error in the main thread',
        });
        if (m.stack) e.stack = m.stack;
        p.reject(e);
      } else p.resolve(m);
    });
    const die = (e: Error) => {
      this.dead = e;
      this.pending?.reject(e);
      this.pending = undefined;
    };
    worker.on('error', (e) =>
      die(new FprlError(`gradient worker ${index} crashed: ${e.message}`, { cause: e })),
    );
    worker.on('exit', (code) => die(new FprlError(`gradient worker ${index} exited (code ${code})`)));
  }

  /** Send one message and wait for its answer (one at a time per worker). */
  request(m: ToWorker, transfer: ArrayBuffer[] = []): Promise<FromWorker> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(m, transfer);
    });
  }
}

export interface DataParallelOptions {
  /** Backend of the workers (default: the main thread's). */
  backend?: string;
}

export class DataParallel {
  private readonly sizes: number[];
  private readonly offsets: number[];
  /** The weights the workers load (none without workers). */
  private readonly weights: SharedArrayBuffer | undefined;
  private version = -1;
  private nextId = 0;
  private closed = false;
  private activeThreads: number;
  /** The shards' forward passes kept by the last `sample` with `keep` (see the file's comment). */
  private kept:
    | {
        images: tf.Tensor4D;
        version: number;
        /** Workers computing at the time (a worker holds a pass only for the shard it computed). */
        remote: number;
        /** Passes of the shards computed on this thread. */
        local: Map<number, KeptPass>;
        /** The message id of the forward pass each worker keeps, by worker. */
        remoteIds: number[];
      }
    | undefined;

  private constructor(
    readonly threads: number,
    private readonly workers: WorkerHandle[],
    sizes: number[],
    weights: SharedArrayBuffer | undefined,
  ) {
    this.sizes = sizes;
    this.offsets = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    this.weights = weights;
    this.activeThreads = threads;
  }

  /** Threads computing now: the main thread and `active - 1` workers (1..threads). */
  get active(): number {
    return this.activeThreads;
  }

  /** Let `n` threads compute (1..threads); the other shards run on the main thread. Results do not change. */
  setActive(n: number): void {
    if (!Number.isInteger(n) || n < 1 || n > this.threads) {
      throw new FprlError(`active threads must be a whole number from 1 to ${this.threads}, got ${n}`, {
        where: 'training.threads',
      });
    }
    this.activeThreads = n;
  }

  /** A pool of one: this thread computes everything, as one shard (every agent starts with one). */
  static single(policy: PolicyNet): DataParallel {
    return new DataParallel(
      1,
      [],
      policy.trainableVariables.map((v) => v.size),
      undefined,
    );
  }

  /** Start `threads - 1` workers with replicas of `policy`'s architecture (none for 1 thread). */
  static async create(
    policy: PolicyNet,
    threads: number,
    opts: DataParallelOptions = {},
  ): Promise<DataParallel> {
    if (!Number.isInteger(threads) || threads < 1) {
      throw new FprlError(`a training pool needs a whole number of threads >= 1, got ${threads}`, {
        where: 'training.threads',
      });
    }
    if (threads === 1) return DataParallel.single(policy);
    const spec = policySpecOf(policy);
    const sizes = policy.trainableVariables.map((v) => v.size);
    const total = sizes.reduce((a, b) => a + b, 0);
    const weights = new SharedArrayBuffer(total * 4);
    const backend = opts.backend ?? tf.getBackend();
    const handles: WorkerHandle[] = [];
    try {
      for (let i = 1; i < threads; i++) {
        handles.push(new WorkerHandle(i, spawnWorker(), new SharedArrayBuffer(total * 4)));
      }
      const answers = await Promise.all(
        handles.map((h) => h.request({ type: 'init', spec, backend, weights, grads: h.grads, sizes })),
      );
      answers.forEach((a, i) => {
        const got = a.type === 'ready' ? a.sizes : [];
        if (got.length !== sizes.length || got.some((s, j) => s !== sizes[j])) {
          throw new FprlError(`worker ${i + 1}'s replica has other variables than the policy`, {
            where: 'training.threads',
            hint: 'the policy must be rebuildable from its config alone',
          });
        }
      });
    } catch (e) {
      await Promise.all(handles.map((h) => h.worker.terminate()));
      throw e;
    }
    return new DataParallel(threads, handles, sizes, weights);
  }

  /** Write the policy's weights for the workers when `version` differs from the last written. */
  private syncWeights(policy: PolicyNet, version: number): void {
    if (version === this.version || !this.weights) return;
    const buf = new Float32Array(this.weights);
    policy.trainableVariables.forEach((v, i) => copyValues(v, buf, this.offsets[i]));
    this.version = version;
  }

  private check(policy: PolicyNet): void {
    if (this.closed) throw new Error('DataParallel: used after dispose()');
    const vars = policy.trainableVariables;
    if (vars.length !== this.sizes.length || vars.some((v, i) => v.size !== this.sizes[i])) {
      throw new Error('DataParallel: the policy has other variables than the one the pool was made for');
    }
  }

  /**
   * The loss of `spec` (loss.ts) on the batch: gradients of the policy's variables, then the value
   * head's (given a value term), summed over shards in shard order (caller disposes them), and the
   * loss and statistics of the whole batch. `version` names the policy's current weights (the
   * caller changes it whenever they change). Dropout: one shard uses `spec.dropout` itself, shard
   * i of several `spec.dropout.fork('shard-<i>')`. `head` is the agent's value head (its values
   * travel to the workers, which differentiate a replica).
   */
  async gradients(
    policy: PolicyNet,
    images: tf.Tensor4D,
    spec: LossSpec,
    version: number,
    head?: HeadVariables,
  ): Promise<LossResult> {
    this.check(policy);
    const [B, H, W, ch] = images.shape;
    const shards = shardRanges(B, this.threads);
    // Shards 1..remote go to workers 0..remote-1; shard 0 and the rest are computed here.
    const remote = Math.min(this.activeThreads, shards.length) - 1;
    const kept = this.kept;
    this.kept = undefined;
    const reuse =
      kept !== undefined &&
      kept.images === images &&
      kept.version === version &&
      kept.remote === remote &&
      spec.dropout === undefined;
    if (kept && !reuse) kept.local.forEach((k) => k.dispose());
    const keptOf = (i: number): KeptPass | undefined => (reuse ? kept!.local.get(i) : undefined);
    if (shards.length === 1) return shardLoss(policy, images, spec, 1, head, keptOf(0));
    if (remote > 0) this.syncWeights(policy, version);
    const pixels = remote > 0 ? (images.dataSync() as Float32Array) : new Float32Array(0);
    const imgSize = H * W * ch;
    const headValues = head && spec.value && remote > 0
      ? { kernel: Float32Array.from(head.kernel.dataSync() as Float32Array), bias: head.bias.dataSync()[0] }
      : undefined;
    const replies = shards.slice(1, 1 + remote).map((s, i) => {
      const img = pixels.slice(s.start * imgSize, (s.start + s.count) * imgSize);
      const part = shardSpec(spec, s.start, s.count, B, H * W * policy.numClasses);
      const weights = part.weights.slice();
      const m: GradMessage = {
        type: 'grad',
        id: this.nextId++,
        version: this.version,
        images: img,
        shape: [s.count, H, W, ch],
        weights,
        normalizer: part.normalizer,
        entropyCoef: part.entropyCoef,
        value: part.value,
        head: headValues,
        share: s.count / B,
        rng: spec.dropout?.fork(`shard-${i + 1}`).getState(),
        ...(reuse ? { keptId: kept!.remoteIds[i] } : {}),
      };
      return this.workers[i].request(m, [img.buffer, weights.buffer]);
    });
    // Shard 0 here while the workers compute theirs, then the shards of idle workers, in order.
    const nPolicy = this.sizes.length;
    const local = new Map<number, LossResult>();
    let failed: unknown;
    try {
      for (const i of [...shards.keys()].filter((j) => j === 0 || j > remote)) {
        const s = shards[i];
        const x = tf.slice(images, [s.start, 0, 0, 0], [s.count, H, W, ch]);
        try {
          const part = shardSpec(spec, s.start, s.count, B, H * W * policy.numClasses);
          const dropout = spec.dropout?.fork(`shard-${i}`);
          local.set(i, shardLoss(policy, x, { ...part, dropout }, s.count / B, head, keptOf(i)));
        } finally {
          x.dispose();
        }
      }
    } catch (e) {
      failed = e;
    }
    // Passes of shards that were not reached (an error above) are freed; shardLoss frees the others.
    if (reuse) kept!.local.forEach((k) => k.dispose());
    const answers = await Promise.allSettled(replies);
    const bad = answers.find((a) => a.status === 'rejected');
    if (failed || bad) {
      for (const r of local.values()) r.grads.forEach((g) => g.dispose());
      throw failed ?? (bad as PromiseRejectedResult).reason;
    }
    const mine = local.get(0)!;
    const s0 = shards[0];
    let loss = mine.loss;
    let policyTerm = mine.policyTerm;
    // Means over a shard's pixels (or K*b pairs) weighted by its share of the batch.
    let entropy = (mine.entropy * s0.count) / B;
    let valueLoss = mine.valueLoss === undefined ? undefined : (mine.valueLoss * s0.count) / B;
    const headParts: Float32Array[] = [];
    // Every other shard's policy gradients as one flat buffer (a worker's, or read back from here).
    const views = shards.slice(1).map((s, j) => {
      const i = j + 1;
      const share = s.count / B;
      const own = local.get(i);
      if (own) {
        loss += own.loss;
        policyTerm += own.policyTerm;
        entropy += own.entropy * share;
        if (valueLoss !== undefined && own.valueLoss !== undefined) valueLoss += own.valueLoss * share;
        const flat = new Float32Array(this.offsets[nPolicy - 1] + this.sizes[nPolicy - 1]);
        own.grads.slice(0, nPolicy).forEach((g, v) => flat.set(g.dataSync() as Float32Array, this.offsets[v]));
        if (own.grads.length > nPolicy) {
          const [k, b] = own.grads.slice(nPolicy);
          const packed = new Float32Array(k.size + 1);
          packed.set(k.dataSync() as Float32Array);
          packed[k.size] = b.dataSync()[0];
          headParts.push(packed);
        }
        own.grads.forEach((g) => g.dispose());
        return flat;
      }
      const a = answers[j];
      const m = (a as PromiseFulfilledResult<FromWorker>).value;
      if (m.type !== 'grad') throw new Error(`DataParallel: worker ${i} answered '${m.type}'`);
      loss += m.loss;
      policyTerm += m.policyTerm;
      entropy += m.entropy * share;
      if (valueLoss !== undefined && m.valueLoss !== undefined) valueLoss += m.valueLoss * share;
      if (m.headGrads) headParts.push(m.headGrads);
      return new Float32Array(this.workers[j].grads);
    });
    // Float32 additions in shard order ((g0 + g1) + g2) ...: in place on the wasm heap with the
    // native addon (heap.ts), else on the backend (~5x faster than a JS loop: 26.6M weights in
    // 36 ms against 185 ms). A worker's buffer is read before any worker can write it again.
    const grads = mine.grads.slice(0, nPolicy).map((g, v) => {
      const off = this.offsets[v];
      const shape = policy.trainableVariables[v].shape;
      let acc = g;
      for (const view of views) {
        const part = view.subarray(off, off + this.sizes[v]);
        if (addInPlace(acc, part)) continue;
        const next = tf.tidy(() => tf.add(acc, tf.tensor(part, shape)));
        acc.dispose();
        acc = next;
      }
      return acc;
    });
    // The value head's gradients [kernel D, bias 1], in shard order too.
    for (const [h, g] of mine.grads.slice(nPolicy).entries()) {
      let acc = g;
      for (const part of headParts) {
        const D = part.length - 1;
        const values = h === 0 ? part.subarray(0, D) : part.subarray(D);
        const next = tf.tidy(() => tf.add(acc, tf.tensor(values, acc.shape)));
        acc.dispose();
        acc = next;
      }
      grads.push(acc);
    }
    return { grads, loss, policyTerm, entropy, ...(valueLoss !== undefined ? { valueLoss } : {}) };
  }

  /**
   * The greedy labelling [B*H*W] (argmax of every pixel's logits) of the batch, each shard on its
   * thread, image-major as one pass would give it.
   */
  async greedy(policy: PolicyNet, images: tf.Tensor4D, version: number): Promise<Int32Array> {
    return (await this.forwardWith(policy, images, 'argmax', version, {})).out;
  }

  /** The pooled features [B*D] of every image (the critic's input), from a split forward pass. */
  async pooled(policy: PolicyNet, images: tf.Tensor4D, version: number): Promise<Float32Array> {
    return (await this.forwardWith(policy, images, 'argmax', version, { pooled: true })).pooled!;
  }

  /**
   * k labellings [k*B*H*W] (sample-major) drawn with `uniforms` [k*B*H*W] (draw j of pixel i at
   * j*B*H*W + i): every shard samples its own pixels with their draws, so the labels are those of
   * one pass sampling the whole batch, and no probabilities travel. With `pooled`, also the
   * pooled features as {@link pooled} gives them.
   */
  async sample(
    policy: PolicyNet,
    images: tf.Tensor4D,
    k: number,
    uniforms: Float64Array,
    version: number,
    pooled = false,
    keep = false,
  ): Promise<{ labels: Int32Array; pooled?: Float32Array }> {
    if (keep) this.releaseKept();
    const r = await this.forwardWith(policy, images, 'sample', version, { pooled, samples: k, uniforms, keep });
    return { labels: r.out, pooled: r.pooled };
  }

  /** Free the forward passes kept by `sample` with `keep` (idempotent; workers free theirs on their next call). */
  releaseKept(): void {
    this.kept?.local.forEach((k) => k.dispose());
    this.kept = undefined;
  }

  private async forwardWith(
    policy: PolicyNet,
    images: tf.Tensor4D,
    mode: ForwardMode,
    version: number,
    opts: ForwardOptions,
  ): Promise<{ out: Int32Array; pooled?: Float32Array }> {
    this.check(policy);
    this.syncWeights(policy, version);
    const [B, H, W, ch] = images.shape;
    const P = H * W;
    const k = mode === 'sample' ? (opts.samples ?? 1) : 1;
    const per = P;
    const shards = shardRanges(B, this.threads);
    const remote = Math.min(this.activeThreads, shards.length) - 1;
    const pixels = remote > 0 ? (images.dataSync() as Float32Array) : new Float32Array(0);
    const imgSize = P * ch;
    const keptPasses = new Map<number, KeptPass>();
    const remoteIds: number[] = [];
    // A shard's draws: for each sample j, its pixels' run of the batch's draws.
    const uniformsOf = (s: { start: number; count: number }): Float64Array | undefined =>
      mode === 'sample' ? shardUniforms(opts.uniforms!, k, B * P, s.start * P, s.count * P) : undefined;
    const replies = shards.slice(1, 1 + remote).map((s, i) => {
      const img = pixels.slice(s.start * imgSize, (s.start + s.count) * imgSize);
      const uniforms = uniformsOf(s);
      const id = this.nextId++;
      remoteIds.push(id);
      return this.workers[i].request(
        {
          type: 'forward',
          id,
          version: this.version,
          images: img,
          shape: [s.count, H, W, ch],
          mode,
          pooled: opts.pooled,
          uniforms,
          samples: opts.samples,
          keep: opts.keep,
        },
        uniforms ? [img.buffer, uniforms.buffer as ArrayBuffer] : [img.buffer],
      );
    });
    const keepAll = (): void => {
      if (opts.keep && keptPasses.size > 0) {
        this.kept = { images, version, remote, local: keptPasses, remoteIds };
      }
    };
    if (shards.length === 1) {
      const r = forwardShard(policy, images, mode, opts);
      if (r.kept) keptPasses.set(0, r.kept);
      keepAll();
      return { out: r.out, pooled: r.pooled };
    }
    // Shard 0 here while the workers compute theirs, then the shards of idle workers.
    const local = new Map<number, { out: Int32Array; pooled?: Float32Array }>();
    try {
      for (const i of [...shards.keys()].filter((j) => j === 0 || j > remote)) {
        const s = shards[i];
        const x = tf.slice(images, [s.start, 0, 0, 0], [s.count, H, W, ch]);
        try {
          const r = forwardShard(policy, x, mode, { ...opts, uniforms: uniformsOf(s) });
          if (r.kept) keptPasses.set(i, r.kept);
          local.set(i, r);
        } finally {
          x.dispose();
        }
      }
    } catch (e) {
      keptPasses.forEach((k) => k.dispose());
      await Promise.allSettled(replies);
      throw e;
    }
    const s0 = shards[0];
    const first = local.get(0)!;
    const out = new Int32Array(k * B * per);
    // Shard outputs are sample-major over the shard's pixels; place each sample's run.
    const place = (part: Int32Array, s: { start: number; count: number }) => {
      const n = s.count * per;
      for (let j = 0; j < k; j++) out.set(part.subarray(j * n, (j + 1) * n), j * B * per + s.start * per);
    };
    const D = first.pooled ? first.pooled.length / s0.count : 0;
    const pooled = first.pooled ? new Float32Array(B * D) : undefined;
    for (const [i, r] of local) {
      place(r.out, shards[i]);
      if (pooled && r.pooled) pooled.set(r.pooled, shards[i].start * D);
    }
    let answers: FromWorker[];
    try {
      answers = await Promise.all(replies);
    } catch (e) {
      keptPasses.forEach((k) => k.dispose());
      throw e;
    }
    answers.forEach((m, i) => {
      if (m.type !== 'forward') throw new Error(`DataParallel: worker ${i + 1} answered '${m.type}'`);
      place(m.out, shards[i + 1]);
      if (pooled && m.pooled) pooled.set(m.pooled, shards[i + 1].start * D);
    });
    keepAll();
    return { out, pooled };
  }

  /** Stop the workers (idempotent). */
  async dispose(): Promise<void> {
    if (this.closed) return;
    this.releaseKept();
    this.closed = true;
    await Promise.all(
      this.workers.map(async (h) => {
        h.worker.postMessage({ type: 'close' } satisfies ToWorker);
        await h.worker.terminate();
      }),
    );
  }
}

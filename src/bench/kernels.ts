/**
 * `fprl bench --kernels`: GFLOP/s of every matMul shape one Face Transformer training step runs
 * (forward, both gradients of each dense layer, the attention products and theirs), for the stock
 * wasm kernel, this project's XNNPACK route and the native AVX2 matMul (when built), side by side,
 * and the matMul time of a whole step.
 */
import * as tf from '@tensorflow/tfjs';
import type { ViTConfig } from '../../agents/vit/index.js';
import { numTokens } from '../../agents/vit/index.js';
import { runStockWasmKernel } from '../wasm/kernels.js';
import { nativeMatMul, setNativeMatMul } from '../native/index.js';
import { machineLoad, round, timeIt } from './timing.js';

/** One matMul as tfjs calls it: `matMul(a, b, transposeA, transposeB)`. */
export interface MatMulShape {
  name: string;
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
  /** Calls per training step. */
  perStep: number;
}

/** Multiply-adds times two of one call. */
export function matMulFlops(s: MatMulShape): number {
  const ra = s.a.length;
  const rb = s.b.length;
  const M = s.transposeA ? s.a[ra - 1] : s.a[ra - 2];
  const K = s.transposeA ? s.a[ra - 2] : s.a[ra - 1];
  const N = s.transposeB ? s.b[rb - 2] : s.b[rb - 1];
  const batch = Math.max(
    s.a.slice(0, -2).reduce((p, x) => p * x, 1),
    s.b.slice(0, -2).reduce((p, x) => p * x, 1),
  );
  return 2 * batch * M * K * N;
}

/**
 * The matMuls of one training step of `config` at `batch` images, as the Face Transformer runs
 * them (tokens [B*T, D] as 2-D matrices, heads folded into the batch of the attention products).
 */
export function vitStepMatMuls(config: ViTConfig, batch: number): MatMulShape[] {
  const T = numTokens(config);
  const N = batch * T;
  const D = config.dim;
  const P = config.patchSize;
  const L = config.depth;
  const hd = D / config.heads;
  const BH = batch * config.heads;
  const shapes: MatMulShape[] = [];
  const dense = (name: string, fanIn: number, fanOut: number, count: number, needsDx = true) => {
    shapes.push({
      name: `${name} forward`,
      a: [N, fanIn],
      b: [fanIn, fanOut],
      transposeA: false,
      transposeB: false,
      perStep: count,
    });
    if (needsDx) {
      shapes.push({
        name: `${name} dX = dY W^T`,
        a: [N, fanOut],
        b: [fanIn, fanOut],
        transposeA: false,
        transposeB: true,
        perStep: count,
      });
    }
    shapes.push({
      name: `${name} dW = X^T dY`,
      a: [N, fanIn],
      b: [N, fanOut],
      transposeA: true,
      transposeB: false,
      perStep: count,
    });
  };
  dense('patch embed', P * P * 3, D, 1, false);
  dense('qkv', D, 3 * D, L);
  shapes.push({
    name: 'scores q k^T',
    a: [BH, T, hd],
    b: [BH, T, hd],
    transposeA: false,
    transposeB: true,
    perStep: L,
  });
  shapes.push({
    name: 'context p v',
    a: [BH, T, T],
    b: [BH, T, hd],
    transposeA: false,
    transposeB: false,
    perStep: L,
  });
  // d(q k^T): dq = dS k (same shape as context), dk = dS^T q; d(p v): dp = dC v^T (as scores), dv = p^T dC.
  shapes.push({
    name: 'dq = dS k',
    a: [BH, T, T],
    b: [BH, T, hd],
    transposeA: false,
    transposeB: false,
    perStep: L,
  });
  shapes.push({
    name: 'dk = dS^T q, dv = p^T dC',
    a: [BH, T, T],
    b: [BH, T, hd],
    transposeA: true,
    transposeB: false,
    perStep: 2 * L,
  });
  shapes.push({
    name: 'dp = dC v^T',
    a: [BH, T, hd],
    b: [BH, T, hd],
    transposeA: false,
    transposeB: true,
    perStep: L,
  });
  dense('attention out', D, D, L);
  dense('mlp fc1', D, config.mlpDim, L);
  dense('mlp fc2', config.mlpDim, D, L);
  dense('proj 1x1', D, D, 1);
  dense('head', D, P * P * config.numClasses, 1);
  return shapes;
}

export interface KernelRow {
  name: string;
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
  perStep: number;
  gflop: number;
  stockMs: number;
  fastMs: number;
  stockGflops: number;
  /** This project's XNNPACK route (src/wasm/batch-matmul.ts without the native matMul). */
  fastGflops: number;
  /** The native AVX2 matMul (src/native/), when it is built and usable here. */
  nativeMs?: number;
  nativeGflops?: number;
  /** Stock time over the fastest route's. */
  speedup: number;
  /** Largest |fast - stock| (and |native - stock|) over the output, on the same inputs. */
  maxAbsDiff: number;
}

export interface KernelReport {
  backend: string;
  rows: KernelRow[];
  /** Sum over the step's matMuls of calls x time. */
  stepMatMulMs: { stock: number; fast: number; native?: number };
  loadAverage1m: number;
  cores: number;
}

export interface KernelBenchOptions {
  /** Wall milliseconds to spend on each kernel of each row (at least one timed run). Default 300. */
  budgetMs?: number;
  /** Called after each row (progress). */
  onRow?: (row: KernelRow) => void;
}

/** Benchmark `shapes` with the stock and the fast kernel (wasm must be the active backend). */
export async function benchMatMulKernels(
  shapes: MatMulShape[],
  opts: KernelBenchOptions = {},
): Promise<KernelReport> {
  if (tf.getBackend() !== 'wasm')
    throw new Error(`the kernel benchmark needs the wasm backend, not ${tf.getBackend()}`);
  const budgetMs = opts.budgetMs ?? 300;
  const hasNative = nativeMatMul() !== undefined;
  const rows: KernelRow[] = [];
  const load = machineLoad();
  let seed = 1;
  for (const s of shapes) {
    const a = tf.randomNormal(s.a, 0, 1, 'float32', seed++);
    const b = tf.randomNormal(s.b, 0, 1, 'float32', seed++);
    try {
      const attrs = { transposeA: s.transposeA, transposeB: s.transposeB };
      const product = () => tf.matMul(a, b, s.transposeA, s.transposeB);
      const maxAbsDiff = tf.tidy(() => {
        const stock = runStockWasmKernel('BatchMatMul', { a, b }, attrs);
        const routes = hasNative ? [true, false] : [false];
        return Math.max(
          ...routes.map((on) => {
            const was = setNativeMatMul(on);
            try {
              return tf.max(tf.abs(tf.sub(product(), stock))).dataSync()[0];
            } finally {
              setNativeMatMul(was);
            }
          }),
        );
      });
      const stock = await timeIt(() => runStockWasmKernel('BatchMatMul', { a, b }, attrs).dispose(), {
        warmup: 0,
        minRuns: 1,
        minMs: budgetMs,
      });
      const timeRoute = async (native: boolean) => {
        const was = setNativeMatMul(native);
        try {
          return await timeIt(() => product().dispose(), { warmup: 1, minRuns: 2, minMs: budgetMs });
        } finally {
          setNativeMatMul(was);
        }
      };
      const fast = await timeRoute(false);
      const native = hasNative ? await timeRoute(true) : undefined;
      const flops = matMulFlops(s);
      const best = Math.min(fast.medianMs, native?.medianMs ?? Infinity);
      const row: KernelRow = {
        ...s,
        gflop: round(flops / 1e9, 3),
        stockMs: round(stock.medianMs, 2),
        fastMs: round(fast.medianMs, 2),
        stockGflops: round(flops / stock.medianMs / 1e6, 2),
        fastGflops: round(flops / fast.medianMs / 1e6, 2),
        ...(native
          ? { nativeMs: round(native.medianMs, 2), nativeGflops: round(flops / native.medianMs / 1e6, 2) }
          : {}),
        speedup: round(stock.medianMs / best, 1),
        maxAbsDiff,
      };
      rows.push(row);
      opts.onRow?.(row);
    } finally {
      tf.dispose([a, b]);
    }
  }
  const stepMatMulMs = {
    stock: round(
      rows.reduce((t, r) => t + r.perStep * r.stockMs, 0),
      1,
    ),
    fast: round(
      rows.reduce((t, r) => t + r.perStep * r.fastMs, 0),
      1,
    ),
    ...(hasNative
      ? {
          native: round(
            rows.reduce((t, r) => t + r.perStep * (r.nativeMs ?? 0), 0),
            1,
          ),
        }
      : {}),
  };
  return { backend: tf.getBackend(), rows, stepMatMulMs, ...load };
}

/** The report as a fixed-width table. */
export function formatKernelReport(report: KernelReport, title: string): string {
  const head = [
    'matMul',
    'a',
    'b',
    'tA',
    'tB',
    'x/step',
    'GFLOP',
    'stock GFLOP/s',
    'XNNPACK GFLOP/s',
    ...(report.stepMatMulMs.native !== undefined ? ['native GFLOP/s'] : []),
    'speedup',
  ];
  const body = report.rows.map((r) => [
    r.name,
    `[${r.a}]`,
    `[${r.b}]`,
    r.transposeA ? 'T' : '',
    r.transposeB ? 'T' : '',
    String(r.perStep),
    r.gflop.toFixed(3),
    r.stockGflops.toFixed(2),
    r.fastGflops.toFixed(2),
    ...(r.nativeGflops !== undefined ? [r.nativeGflops.toFixed(2)] : []),
    `${r.speedup.toFixed(1)}x`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const { stock, fast, native } = report.stepMatMulMs;
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const nativePart = native !== undefined ? `, native ${s(native)} (${(stock / native).toFixed(1)}x)` : '';
  return [
    title,
    line(head),
    ...body.map(line),
    `matMul time of one training step: stock ${s(stock)}, XNNPACK ${s(fast)} (${(stock / fast).toFixed(1)}x)` +
      `${nativePart}; load average ${report.loadAverage1m} on ${report.cores} cores`,
  ].join('\n');
}

/**
 * The convolutions on the native addon (src/native/): im2col / col2im (conv.cc) and the AVX2 GEMM
 * (kernels.cc), on Float32Array views of the tensors in the wasm heap, as the native matMul does.
 * The column matrix is built a chunk of rows at a time in a buffer of the Node heap, not the wasm
 * heap: it is scratch that no tensor keeps, and the wasm heap never shrinks once grown.
 *
 * Transposes are strides for the GEMM: the input gradient multiplies by `w^T` and the filter
 * gradient by `cols^T` without moving either.
 *
 * Where the addon has them (direct-conv.cc) and the fused kernels are on (`FPRL_FUSED` not 0,
 * src/native/fused.ts), the direct kernels run instead: the forward pass always, the input gradient
 * at stride 1, the filter gradient when the output channels are a multiple of 8. They read the
 * input in place (no column matrix) and are 2-5x faster on the hybrid Face Transformer's decoder,
 * but sum in another order, so results are reproducible per route (as the fused kernels).
 */
import type { NativeAddon } from '../native/index.js';
import { fusedKernelsOn } from '../native/fused.js';
import { float32View } from './internals.js';
import {
  col2im,
  computedOutput,
  forEachChunk,
  geometryArray,
  im2col,
  isPointwise,
  outputPixels,
  patchSize,
  rowsPerChunk,
  type ConvGeometry,
  type ConvRoute,
} from './im2col.js';

/** Slice 0 of each operand: one product per call. */
const FIRST = new Int32Array(1);

/** Scratch of this thread, grown on demand and kept: a chunk of columns, and one filter. */
let columns = new Float32Array(0);
let partial = new Float32Array(0);

function scratchColumns(g: ConvGeometry): Float32Array {
  const n = rowsPerChunk(g) * patchSize(g);
  if (columns.length < n) columns = new Float32Array(n);
  return columns;
}

function scratchPartial(n: number): Float32Array {
  if (partial.length < n) partial = new Float32Array(n);
  return partial.subarray(0, n);
}

/** The addon's im2col / col2im for `g`; the TypeScript loops for an addon built before them. */
function dataMovement(addon: NativeAddon, g: ConvGeometry) {
  const geometry = geometryArray(g);
  const nativeIm2col = addon.im2col;
  const nativeCol2im = addon.col2im;
  return {
    im2col: (x: Float32Array, cols: Float32Array, p0: number, rows: number): void =>
      nativeIm2col ? nativeIm2col(x, cols, geometry, p0, rows) : im2col(x, cols, g, p0, rows),
    col2im: (cols: Float32Array, dx: Float32Array, p0: number, rows: number): void =>
      nativeCol2im ? nativeCol2im(cols, dx, geometry, p0, rows) : col2im(cols, dx, g, p0, rows),
  };
}

/** The three passes on the addon. */
export function nativeConvRoute(addon: NativeAddon): ConvRoute {
  /** c [M,N] = op(a) op(b). */
  const gemm = (
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    M: number,
    N: number,
    K: number,
    tA: boolean,
    tB: boolean,
  ): void => addon.gemm(a, b, c, M, N, K, tA, tB, FIRST, FIRST, null, 0, 0);

  // The direct kernels when present and the fused route is on (checked per call: tests switch it).
  const direct = {
    forward: () => (addon.convForward && fusedKernelsOn() ? addon.convForward : undefined),
    inputGradient: (g: ConvGeometry) =>
      addon.convInputGradient && fusedKernelsOn() && g.strideH === 1 && g.strideW === 1
        ? addon.convInputGradient
        : undefined,
    filterGradient: (g: ConvGeometry) =>
      addon.convFilterGradient && fusedKernelsOn() && g.O % 8 === 0 ? addon.convFilterGradient : undefined,
  };

  // Views are taken after the output's allocation: allocating can grow (and replace) the heap.
  return {
    forward: (backend, g, x, w) =>
      computedOutput(backend, [g.B, g.outH, g.outW, g.O], (out) => {
        const [xs, ws, ys] = [x, w, out].map((t) => float32View(backend, t));
        const K = patchSize(g);
        const conv = direct.forward();
        if (conv && !isPointwise(g)) return conv(xs, ws, ys, geometryArray(g), g.O);
        if (isPointwise(g)) return gemm(xs, ws, ys, outputPixels(g), g.O, K, false, false);
        const move = dataMovement(addon, g);
        const cols = scratchColumns(g);
        forEachChunk(g, (p0, rows) => {
          move.im2col(xs, cols, p0, rows);
          gemm(cols, ws, ys.subarray(p0 * g.O), rows, g.O, K, false, false);
        });
      }),

    inputGradient: (backend, g, dy, w) =>
      computedOutput(backend, [g.B, g.H, g.W, g.C], (dx) => {
        const [dys, ws, dxs] = [dy, w, dx].map((t) => float32View(backend, t));
        if (isPointwise(g)) return gemm(dys, ws, dxs, outputPixels(g), g.C, g.O, false, true);
        const conv = direct.inputGradient(g);
        if (conv) return conv(dys, ws, dxs, geometryArray(g), g.O);
        const move = dataMovement(addon, g);
        const cols = scratchColumns(g);
        dxs.fill(0);
        forEachChunk(g, (p0, rows) => {
          gemm(dys.subarray(p0 * g.O), ws, cols, rows, patchSize(g), g.O, false, true);
          move.col2im(cols, dxs, p0, rows);
        });
      }),

    filterGradient: (backend, g, x, dy) =>
      computedOutput(backend, [g.kH, g.kW, g.C, g.O], (dw) => {
        const [xs, dys, dws] = [x, dy, dw].map((t) => float32View(backend, t));
        const K = patchSize(g);
        if (isPointwise(g)) return gemm(xs, dys, dws, K, g.O, outputPixels(g), true, false);
        const conv = direct.filterGradient(g);
        if (conv) return conv(xs, dys, dws, geometryArray(g), g.O);
        const move = dataMovement(addon, g);
        const cols = scratchColumns(g);
        // The first chunk writes dw; each later one adds its product (a fixed order: reproducible).
        forEachChunk(g, (p0, rows) => {
          move.im2col(xs, cols, p0, rows);
          const part = p0 === 0 ? dws : scratchPartial(K * g.O);
          gemm(cols, dys.subarray(p0 * g.O), part, K, g.O, rows, true, false);
          if (p0 > 0) addon.addInto(dws, part);
        });
      }),
  };
}

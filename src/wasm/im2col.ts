/**
 * im2col and col2im: the data movement that turns a 2-D convolution into one matrix product
 * (src/wasm/conv-kernel.ts). Row p of the column matrix is the input patch under output pixel
 * p = (b*outH + oy)*outW + ox, laid out `[kH, kW, C]` like the first three axes of an HWIO filter,
 * so `conv(x, w) = cols [P, kH*kW*C] x w [kH*kW*C, O]`; zeros where the patch leaves the input
 * (padding). col2im adds rows back where im2col took them: the input gradient is
 * `col2im(dY w^T)`.
 *
 * These loops are the reference and the fallback of the native ones (src/native/conv.cc), which
 * repeat them in the same order, so both give the same bits (col2im rounds to float32 at every
 * add here too: the target is a Float32Array).
 */
import type * as tf from '@tensorflow/tfjs';
import type { WasmBackend } from './internals.js';

/** Sizes of one convolution: NHWC input `[B,H,W,C]`, HWIO filter `[kH,kW,C,O]`, output `[B,outH,outW,O]`. */
export interface ConvGeometry {
  B: number;
  H: number;
  W: number;
  C: number;
  outH: number;
  outW: number;
  O: number;
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  padTop: number;
  padLeft: number;
}

/** The geometry of tfjs's shape arithmetic (padding, rounding and output size as every backend). */
export function convGeometry(info: tf.backend_util.Conv2DInfo): ConvGeometry {
  return {
    B: info.batchSize,
    H: info.inHeight,
    W: info.inWidth,
    C: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    O: info.outChannels,
    kH: info.filterHeight,
    kW: info.filterWidth,
    strideH: info.strideHeight,
    strideW: info.strideWidth,
    dilationH: info.dilationHeight,
    dilationW: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** Values in one patch (a row of the column matrix, the filter's rows). */
export const patchSize = (g: ConvGeometry): number => g.kH * g.kW * g.C;

/** Output pixels (rows of the column matrix). */
export const outputPixels = (g: ConvGeometry): number => g.B * g.outH * g.outW;

/**
 * Elements of the column matrix computed at a time (8 MiB of float32): the buffer stays small
 * next to the images (a 7x7 stem over 8 images of 256 px would need 77 MB at once) and the wasm
 * heap does not grow with them.
 */
export const CHUNK_ELEMENTS = 1 << 21;

/** Rows of the column matrix per chunk (at least one). */
export function rowsPerChunk(g: ConvGeometry): number {
  return Math.max(1, Math.min(outputPixels(g), Math.floor(CHUNK_ELEMENTS / Math.max(1, patchSize(g)))));
}

/** `fn(p0, rows)` for each chunk of output pixels, in order. */
export function forEachChunk(g: ConvGeometry, fn: (p0: number, rows: number) => void): void {
  const P = outputPixels(g);
  const step = rowsPerChunk(g);
  for (let p0 = 0; p0 < P; p0 += step) fn(p0, Math.min(step, P - p0));
}

/**
 * Whether the column matrix is the input itself (a 1x1 filter at stride 1 without padding): the
 * convolution is then a plain matMul of `[B*H*W, C]`.
 */
export function isPointwise(g: ConvGeometry): boolean {
  return (
    g.kH === 1 &&
    g.kW === 1 &&
    g.strideH === 1 &&
    g.strideW === 1 &&
    g.padTop === 0 &&
    g.padLeft === 0 &&
    g.outH === g.H &&
    g.outW === g.W
  );
}

/**
 * The three passes of a convolution as matrix products on one route (the native addon's GEMM, or
 * XNNPACK through the wasm matMul kernel). Each returns a new tensor the caller owns.
 */
export interface ConvRoute {
  /** `[B,outH,outW,O]` = conv(x `[B,H,W,C]`, w `[kH,kW,C,O]`). */
  forward(backend: WasmBackend, g: ConvGeometry, x: tf.TensorInfo, w: tf.TensorInfo): tf.TensorInfo;
  /** dx `[B,H,W,C]` = col2im(dy `[P,O]` w^T). */
  inputGradient(backend: WasmBackend, g: ConvGeometry, dy: tf.TensorInfo, w: tf.TensorInfo): tf.TensorInfo;
  /** dw `[kH,kW,C,O]` = im2col(x)^T dy. */
  filterGradient(backend: WasmBackend, g: ConvGeometry, x: tf.TensorInfo, dy: tf.TensorInfo): tf.TensorInfo;
}

/** A new float32 output that `fill` computes; freed again if `fill` throws. */
export function computedOutput(
  backend: WasmBackend,
  shape: number[],
  fill: (out: tf.TensorInfo) => void,
): tf.TensorInfo {
  const out = backend.makeOutput(shape, 'float32');
  try {
    fill(out);
  } catch (e) {
    backend.disposeData(out.dataId);
    throw e;
  }
  return out;
}

/** The geometry as the native addon takes it (the order of src/native/conv.cc's Geometry). */
export function geometryArray(g: ConvGeometry): Int32Array {
  return Int32Array.from([
    g.B,
    g.H,
    g.W,
    g.C,
    g.outH,
    g.outW,
    g.kH,
    g.kW,
    g.strideH,
    g.strideW,
    g.dilationH,
    g.dilationW,
    g.padTop,
    g.padLeft,
  ]);
}

/** `cols[r]` = the patch of output pixel `p0 + r`, for `r < rows`. */
export function im2col(
  /** [B,H,W,C] */ x: Float32Array,
  /** [rows, kH*kW*C] */ cols: Float32Array,
  g: ConvGeometry,
  p0: number,
  rows: number,
): void {
  const { H, W, C, outW, kH, kW, strideH, strideW, dilationH, dilationW, padTop, padLeft } = g;
  const plane = g.outH * outW;
  const run = kW * C;
  const patch = kH * run;
  for (let r = 0; r < rows; r++) {
    const p = p0 + r;
    const b = Math.floor(p / plane);
    const oy = Math.floor((p - b * plane) / outW);
    const ox = p - b * plane - oy * outW;
    const ix0 = ox * strideW - padLeft;
    let dst = r * patch;
    for (let ky = 0; ky < kH; ky++, dst += run) {
      const iy = oy * strideH - padTop + ky * dilationH;
      if (iy < 0 || iy >= H) {
        cols.fill(0, dst, dst + run);
        continue;
      }
      const row = (b * H + iy) * W * C;
      for (let kx = 0; kx < kW; kx++) {
        const ix = ix0 + kx * dilationW;
        const d = dst + kx * C;
        if (ix < 0 || ix >= W) {
          for (let c = 0; c < C; c++) cols[d + c] = 0;
        } else {
          const s = row + ix * C;
          for (let c = 0; c < C; c++) cols[d + c] = x[s + c];
        }
      }
    }
  }
}

/** `dx +=` the patches `cols[r]` of output pixels `p0 + r`, put back where {@link im2col} took them. */
export function col2im(
  /** [rows, kH*kW*C] */ cols: Float32Array,
  /** [B,H,W,C] */ dx: Float32Array,
  g: ConvGeometry,
  p0: number,
  rows: number,
): void {
  const { H, W, C, outW, kH, kW, strideH, strideW, dilationH, dilationW, padTop, padLeft } = g;
  const plane = g.outH * outW;
  const run = kW * C;
  const patch = kH * run;
  for (let r = 0; r < rows; r++) {
    const p = p0 + r;
    const b = Math.floor(p / plane);
    const oy = Math.floor((p - b * plane) / outW);
    const ox = p - b * plane - oy * outW;
    const ix0 = ox * strideW - padLeft;
    let src = r * patch;
    for (let ky = 0; ky < kH; ky++, src += run) {
      const iy = oy * strideH - padTop + ky * dilationH;
      if (iy < 0 || iy >= H) continue;
      const row = (b * H + iy) * W * C;
      for (let kx = 0; kx < kW; kx++) {
        const ix = ix0 + kx * dilationW;
        if (ix < 0 || ix >= W) continue;
        const d = row + ix * C;
        const s = src + kx * C;
        for (let c = 0; c < C; c++) dx[d + c] += cols[s + c];
      }
    }
  }
}

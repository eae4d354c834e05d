// The data movement of the wasm backend's convolutions (src/wasm/conv-kernel.ts): im2col, which
// lays out the input patch of every output pixel as one row so that a convolution is one GEMM
// (kernels.cc), and col2im, which adds such rows back onto the input (the input gradient). The
// arithmetic lives in the GEMM; these loops only copy and add, but in TypeScript they cost as much
// as the product itself for a conv stem (3 channels: runs of 3 floats, a bounds test for each).
//
// Also copyRuns, the strided row copy under the wasm backend's Slice, SplitV and Concat
// (src/wasm/slice-kernel.ts, concat-kernel.ts): channel concats and splits of NHWC maps (the hybrid
// Face Transformer's skips and nearest upsampling) are hundreds of thousands of runs of a few
// floats, and a JS call per run (copyWithin, subarray + set) cost ~100 ns each.
//
// Both are the TypeScript loops of src/wasm/im2col.ts, which stay the fallback, in the same order
// (col2im adds each row's values in increasing pixel, then patch order, rounding to float32 at every
// add, no fused multiply-add: binding.gyp's -ffp-contract=off), so the results are bit for bit the
// same (test/native/conv.test.ts).
//
// Geometry (an Int32Array of 14, src/wasm/im2col.ts geometryArray):
//   [B, H, W, C, outH, outW, kH, kW, strideH, strideW, dilationH, dilationW, padTop, padLeft]
// Input x is NHWC [B,H,W,C]; a row of cols is the patch of output pixel p = (b*outH + oy)*outW + ox,
// [kH, kW, C] in the order of an HWIO filter's first three axes, zeros where it leaves the input.
#include "napi-util.h"

#include <cstdint>
#include <cstring>
#include <string>

namespace fprl {
namespace {

struct Geometry {
  int64_t B, H, W, C, outH, outW, kH, kW, strideH, strideW, dilationH, dilationW, padTop, padLeft;
  int64_t patch() const { return kH * kW * C; }
  int64_t pixels() const { return B * outH * outW; }
};

// The geometry from its Int32Array; false when it is not 14 values, a size is negative, a stride or
// dilation is below 1, or the sizes multiply past 2^53 (so no product below overflows).
bool readGeometry(napi_env env, napi_value v, Geometry* g) {
  int32_t* a;
  size_t n;
  if (!typedArray(env, v, &a, &n) || n != 14) return false;
  for (size_t i = 0; i < n; i++)
    if (a[i] < 0) return false;
  *g = {a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13]};
  if (g->strideH < 1 || g->strideW < 1 || g->dilationH < 1 || g->dilationW < 1) return false;
  const double limit = 9007199254740992.0;
  const double input = static_cast<double>(g->B) * g->H * g->W * g->C;
  const double cols = static_cast<double>(g->B) * g->outH * g->outW * g->kH * g->kW * g->C;
  return input < limit && cols < limit;
}

// cols[r] = the patch of output pixel p0 + r, for r < rows.
void im2col(const float* x, float* cols, const Geometry& g, int64_t p0, int64_t rows) {
  const int64_t plane = g.outH * g.outW, run = g.kW * g.C, patch = g.patch();
  for (int64_t r = 0; r < rows; r++) {
    const int64_t p = p0 + r, b = p / plane, oy = (p % plane) / g.outW, ox = p % g.outW;
    const int64_t ix0 = ox * g.strideW - g.padLeft;
    float* dst = cols + r * patch;
    for (int64_t ky = 0; ky < g.kH; ky++, dst += run) {
      const int64_t iy = oy * g.strideH - g.padTop + ky * g.dilationH;
      if (iy < 0 || iy >= g.H) {
        std::memset(dst, 0, run * sizeof(float));
        continue;
      }
      const float* row = x + (b * g.H + iy) * g.W * g.C;
      if (g.dilationW == 1 && ix0 >= 0 && ix0 + g.kW <= g.W) {  // the whole run inside: one copy
        std::memcpy(dst, row + ix0 * g.C, run * sizeof(float));
        continue;
      }
      for (int64_t kx = 0; kx < g.kW; kx++) {
        const int64_t ix = ix0 + kx * g.dilationW;
        if (ix < 0 || ix >= g.W)
          std::memset(dst + kx * g.C, 0, g.C * sizeof(float));
        else
          std::memcpy(dst + kx * g.C, row + ix * g.C, g.C * sizeof(float));
      }
    }
  }
}

// dx += the patches cols[r] of output pixels p0 + r put back where im2col took them.
void col2im(const float* cols, float* dx, const Geometry& g, int64_t p0, int64_t rows) {
  const int64_t plane = g.outH * g.outW, run = g.kW * g.C, patch = g.patch();
  for (int64_t r = 0; r < rows; r++) {
    const int64_t p = p0 + r, b = p / plane, oy = (p % plane) / g.outW, ox = p % g.outW;
    const int64_t ix0 = ox * g.strideW - g.padLeft;
    const float* src = cols + r * patch;
    for (int64_t ky = 0; ky < g.kH; ky++, src += run) {
      const int64_t iy = oy * g.strideH - g.padTop + ky * g.dilationH;
      if (iy < 0 || iy >= g.H) continue;
      float* row = dx + (b * g.H + iy) * g.W * g.C;
      for (int64_t kx = 0; kx < g.kW; kx++) {
        const int64_t ix = ix0 + kx * g.dilationW;
        if (ix < 0 || ix >= g.W) continue;
        float* d = row + ix * g.C;
        const float* s = src + kx * g.C;
        for (int64_t c = 0; c < g.C; c++) d[c] = d[c] + s[c];
      }
    }
  }
}

// The arguments shared by both entry points, (x, cols, geometry, p0, rows) for im2col and
// (cols, dx, geometry, p0, rows) for col2im: `image` (x or dx) must hold the whole input and `cols`
// at least `rows` patches, of output pixels that exist. Returns the error message, or nullptr.
const char* readArgs(napi_env env, napi_value (&a)[5], bool colsFirst, float** image, float** cols, Geometry* g,
                     int64_t* p0, int64_t* rows) {
  size_t imageLen, colsLen, first, n;
  if (!typedArray(env, a[colsFirst ? 1 : 0], image, &imageLen) || !typedArray(env, a[colsFirst ? 0 : 1], cols, &colsLen))
    return "expected two Float32Arrays";
  if (!readGeometry(env, a[2], g)) return "geometry must be an Int32Array of 14 sizes (strides, dilations >= 1)";
  if (!count(env, a[3], &first) || !count(env, a[4], &n)) return "p0 and rows must be non-negative integers";
  if (static_cast<double>(imageLen) < static_cast<double>(g->B) * g->H * g->W * g->C)
    return "the image is shorter than B*H*W*C";
  if (static_cast<double>(first) + static_cast<double>(n) > static_cast<double>(g->pixels()))
    return "p0 + rows is past the last output pixel";
  if (static_cast<double>(colsLen) < static_cast<double>(n) * static_cast<double>(g->patch()))
    return "cols is shorter than rows * kH*kW*C";
  *p0 = static_cast<int64_t>(first);
  *rows = static_cast<int64_t>(n);
  return nullptr;
}

// im2col(x, cols, geometry, p0, rows): cols[r] = patch of output pixel p0 + r.
napi_value Im2col(napi_env env, napi_callback_info info) {
  napi_value a[5];
  if (!args(env, info, a)) return fail(env, "im2col: expected 5 arguments");
  float *x, *cols;
  Geometry g;
  int64_t p0, rows;
  if (const char* error = readArgs(env, a, false, &x, &cols, &g, &p0, &rows)) return failWith(env, "im2col", error);
  im2col(x, cols, g, p0, rows);
  return nullptr;
}

// col2im(cols, dx, geometry, p0, rows): dx += the patches put back (see col2im above).
napi_value Col2im(napi_env env, napi_callback_info info) {
  napi_value a[5];
  if (!args(env, info, a)) return fail(env, "col2im: expected 5 arguments");
  float *dx, *cols;
  Geometry g;
  int64_t p0, rows;
  if (const char* error = readArgs(env, a, true, &dx, &cols, &g, &p0, &rows)) return failWith(env, "col2im", error);
  col2im(cols, dx, g, p0, rows);
  return nullptr;
}

// copyRuns(heap, src, srcStride, dst, dstStride, run, count): count runs of `run` bytes, run i from
// heap[src + i*srcStride] to heap[dst + i*dstStride] (byte offsets in one buffer, the wasm heap).
// Every run is checked to lie inside the buffer; source and destination runs must not overlap (they
// are different tensors).
napi_value CopyRuns(napi_env env, napi_callback_info info) {
  napi_value a[7];
  uint8_t* heap;
  size_t len, src, srcStride, dst, dstStride, run, n;
  if (!args(env, info, a) || !typedArray(env, a[0], &heap, &len))
    return fail(env, "copyRuns: expected a Uint8Array and six non-negative integers");
  if (!count(env, a[1], &src) || !count(env, a[2], &srcStride) || !count(env, a[3], &dst) ||
      !count(env, a[4], &dstStride) || !count(env, a[5], &run) || !count(env, a[6], &n))
    return fail(env, "copyRuns: offsets, strides, run and count must be non-negative integers");
  if (n == 0 || run == 0) return nullptr;
  const size_t srcEnd = src + (n - 1) * srcStride + run, dstEnd = dst + (n - 1) * dstStride + run;
  if (srcEnd > len || dstEnd > len || srcEnd < src || dstEnd < dst) return fail(env, "copyRuns: a run lies outside the buffer");
  for (size_t i = 0; i < n; i++) std::memcpy(heap + dst + i * dstStride, heap + src + i * srcStride, run);
  return nullptr;
}

}  // namespace

void registerConv(napi_env env, napi_value exports) {
  setFunction(env, exports, "im2col", Im2col);
  setFunction(env, exports, "col2im", Col2im);
  setFunction(env, exports, "copyRuns", CopyRuns);
}

}  // namespace fprl

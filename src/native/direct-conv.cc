// Direct convolutions on NHWC maps and HWIO filters (AVX2 + FMA), the fast route of the wasm
// backend's Conv2D and its two gradients (src/wasm/conv-native.ts). The im2col route (conv.cc + the
// GEMM) writes a column matrix of B*outH*outW x kH*kW*C floats and reads it back: for the hybrid
// Face Transformer's decoder (3x3 convs over 128x128 and 64x64 maps of 16-96 channels) that matrix is
// 100-300 MB per call, and the filter gradient is a product with a reduction over 262,144 pixels
// into a 315 x 16 result, where a GEMM's blocking gains nothing: measured 10-23 GFLOP/s. Here each
// kernel keeps a register tile of the output and reads the input in place:
//   forward          y[p, o]     += x[tap(p), c] * w[tap, c, o]   tile: 6 pixels x 16 outputs
//   filter gradient  dw[tap,c,o] += x[tap(p), c] * dy[p, o]       tile: 6 channels x 16 outputs,
//                                                                   summed over one output row
//   input gradient   (stride 1) the forward kernel on dy with the filter turned 180 degrees and
//                    its in/out axes swapped, and the padding mirrored: dx = conv(dy, w')
// Pixels a tap puts outside the input read a row of zeros (forward) or are skipped (filter
// gradient), so any padding, stride and dilation is exact. The sums run in a fixed order (taps,
// then channels; pixels in increasing order for the filter gradient): the same inputs give the same
// bits on every run, but not the bits of the im2col route (another order), which `FPRL_FUSED=0`
// keeps (src/native/fused.ts).
//
// Geometry: the Int32Array of conv.cc, [B, H, W, C, outH, outW, kH, kW, strideH, strideW,
// dilationH, dilationW, padTop, padLeft], plus the output channels O as its own argument.
#include "napi-util.h"
#include "simd.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace fprl {
namespace {

struct Conv {
  int64_t B, H, W, C, outH, outW, kH, kW, sH, sW, dH, dW, pT, pL, O;
};

#if FPRL_X86
// Lanes [0, n) of a load/store mask, n in 1..8.
FPRL_AVX2 inline __m256i laneMask(int64_t n) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), lane);
}

// y[i][o0 .. o0+8*OV) for the PX pixels whose tap rows are xp[t*PX + i] (a row of C input values,
// or zeros), over taps t and channels c; `panel` is the filter's columns o0 .. o0+8*OV packed as
// [tap][c][8*OV] (contiguous, so the rows stream from cache). The last vector of the block is
// stored to `mask` lanes only when MASKED (the output's last, partial block; its panel is padded
// with zeros).
template <int PX, int OV, bool MASKED>
FPRL_AVX2 void forwardTile(const float* const* xp, const float* panel, int64_t taps, int64_t C, int64_t O, float* y,
                           __m256i mask) {
  __m256 acc[PX][OV];
  for (int i = 0; i < PX; i++)
    for (int v = 0; v < OV; v++) acc[i][v] = _mm256_setzero_ps();
  const float* wr = panel;
  for (int64_t t = 0; t < taps; t++) {
    const float* const* xt = xp + t * PX;
    for (int64_t c = 0; c < C; c++, wr += 8 * OV) {
      __m256 wv[OV];
      for (int v = 0; v < OV; v++) wv[v] = _mm256_loadu_ps(wr + 8 * v);
      for (int i = 0; i < PX; i++) {
        const __m256 xb = _mm256_broadcast_ss(xt[i] + c);
        for (int v = 0; v < OV; v++) acc[i][v] = _mm256_fmadd_ps(xb, wv[v], acc[i][v]);
      }
    }
  }
  for (int i = 0; i < PX; i++)
    for (int v = 0; v < OV; v++) {
      float* dst = y + i * O + 8 * v;
      if (MASKED && v == OV - 1)
        _mm256_maskstore_ps(dst, mask, acc[i][v]);
      else
        _mm256_storeu_ps(dst, acc[i][v]);
    }
}

// One block of outputs [o0, o0 + width) over the pixels of one output row (their tap rows in xp,
// taps x n pointers, pixel-major within a tap group of PX): tiles of 6 pixels, then 3, then 1.
template <int OV, bool MASKED>
FPRL_AVX2 void forwardRow(const float* const* xp, int64_t n, const float* panel, const Conv& g, float* y,
                          __m256i mask) {
  const int64_t taps = g.kH * g.kW;
  int64_t i = 0;
  for (; i + 6 <= n; i += 6) forwardTile<6, OV, MASKED>(xp + i * taps, panel, taps, g.C, g.O, y + i * g.O, mask);
  for (; i + 3 <= n; i += 3) forwardTile<3, OV, MASKED>(xp + i * taps, panel, taps, g.C, g.O, y + i * g.O, mask);
  for (; i < n; i++) forwardTile<1, OV, MASKED>(xp + i * taps, panel, taps, g.C, g.O, y + i * g.O, mask);
}

// y = conv(x, w). The filter is packed into panels of 16 (then 8) output columns; per output row
// the tap rows of every pixel are gathered once, then each panel sweeps the row, so one panel and
// the row's input stay in cache (a whole filter can be larger than L2: 320 x 128 x 9 is 1.5 MB).
FPRL_AVX2 void forward(const float* x, const float* w, float* y, const Conv& g) {
  const int64_t taps = g.kH * g.kW, K = taps * g.C;
  struct Block {
    int64_t o0, width;
    int ov;
  };
  std::vector<Block> blocks;
  for (int64_t o0 = 0; o0 < g.O;) {
    const int64_t rest = g.O - o0;
    const Block b{o0, rest >= 16 ? 16 : (rest >= 8 ? 8 : rest), rest >= 16 ? 2 : 1};
    blocks.push_back(b);
    o0 += b.width;
  }
  // Panels: block j at panels[j*K*16], [tap][c][8*ov] with zeros past the block's width.
  std::vector<float> panels(blocks.size() * static_cast<size_t>(K) * 16, 0.f);
  for (size_t j = 0; j < blocks.size(); j++) {
    const int64_t stride = 8 * blocks[j].ov;
    float* p = panels.data() + j * K * 16;
    for (int64_t k = 0; k < K; k++)
      for (int64_t o = 0; o < blocks[j].width; o++) p[k * stride + o] = w[k * g.O + blocks[j].o0 + o];
  }
  const std::vector<float> zeros(static_cast<size_t>(g.C), 0.f);
  // xp: for a tile starting at pixel i, pointers [tap][pixel] for its PX pixels; laid out so that
  // pixel i's tile group starts at i*taps for every PX used (6, 3, 1: groups are contiguous).
  std::vector<const float*> xp(static_cast<size_t>(g.outW * taps));
  for (int64_t b = 0; b < g.B; b++)
    for (int64_t oy = 0; oy < g.outH; oy++) {
      int64_t i = 0;
      auto gather = [&](int64_t i0, int PX) {
        for (int64_t ky = 0, t = 0; ky < g.kH; ky++) {
          const int64_t iy = oy * g.sH - g.pT + ky * g.dH;
          for (int64_t kx = 0; kx < g.kW; kx++, t++)
            for (int p = 0; p < PX; p++) {
              const int64_t ix = (i0 + p) * g.sW - g.pL + kx * g.dW;
              const bool inside = iy >= 0 && iy < g.H && ix >= 0 && ix < g.W;
              xp[i0 * taps + t * PX + p] = inside ? x + ((b * g.H + iy) * g.W + ix) * g.C : zeros.data();
            }
        }
      };
      for (; i + 6 <= g.outW; i += 6) gather(i, 6);
      for (; i + 3 <= g.outW; i += 3) gather(i, 3);
      for (; i < g.outW; i++) gather(i, 1);
      float* yrow = y + (b * g.outH + oy) * g.outW * g.O;
      for (size_t j = 0; j < blocks.size(); j++) {
        const Block& bl = blocks[j];
        const float* panel = panels.data() + j * K * 16;
        if (bl.ov == 2)
          forwardRow<2, false>(xp.data(), g.outW, panel, g, yrow + bl.o0, __m256i{});
        else if (bl.width == 8)
          forwardRow<1, false>(xp.data(), g.outW, panel, g, yrow + bl.o0, __m256i{});
        else
          forwardRow<1, true>(xp.data(), g.outW, panel, g, yrow + bl.o0, laneMask(bl.width));
      }
    }
}

// dw[tap][c0 .. c0+CB)[o0 .. o0+16) += sum over n pixels of x[c0+j] * dy[o0 ..], the pixels' input
// rows at xs + k*xStep and their dy rows at dy + k*O.
template <int CB>
FPRL_AVX2 void filterTile(const float* xs, int64_t xStep, const float* dy, int64_t O, int64_t n, float* dw) {
  __m256 acc[CB][2];
  for (int j = 0; j < CB; j++)
    for (int v = 0; v < 2; v++) acc[j][v] = _mm256_loadu_ps(dw + j * O + 8 * v);
  for (int64_t k = 0; k < n; k++) {
    const __m256 d0 = _mm256_loadu_ps(dy + k * O), d1 = _mm256_loadu_ps(dy + k * O + 8);
    const float* xk = xs + k * xStep;
    for (int j = 0; j < CB; j++) {
      const __m256 xb = _mm256_broadcast_ss(xk + j);
      acc[j][0] = _mm256_fmadd_ps(xb, d0, acc[j][0]);
      acc[j][1] = _mm256_fmadd_ps(xb, d1, acc[j][1]);
    }
  }
  for (int j = 0; j < CB; j++)
    for (int v = 0; v < 2; v++) _mm256_storeu_ps(dw + j * O + 8 * v, acc[j][v]);
}

// The same for one 8-output block (O an odd multiple of 8).
template <int CB>
FPRL_AVX2 void filterTile8(const float* xs, int64_t xStep, const float* dy, int64_t O, int64_t n, float* dw) {
  __m256 acc[CB];
  for (int j = 0; j < CB; j++) acc[j] = _mm256_loadu_ps(dw + j * O);
  for (int64_t k = 0; k < n; k++) {
    const __m256 d0 = _mm256_loadu_ps(dy + k * O);
    const float* xk = xs + k * xStep;
    for (int j = 0; j < CB; j++) acc[j] = _mm256_fmadd_ps(_mm256_broadcast_ss(xk + j), d0, acc[j]);
  }
  for (int j = 0; j < CB; j++) _mm256_storeu_ps(dw + j * O, acc[j]);
}

template <int CB>
FPRL_AVX2 void filterBlocks(const float* xs, int64_t xStep, const float* dy, int64_t O, int64_t n, float* dw) {
  int64_t o0 = 0;
  for (; o0 + 16 <= O; o0 += 16) filterTile<CB>(xs, xStep, dy + o0, O, n, dw + o0);
  for (; o0 < O; o0 += 8) filterTile8<CB>(xs, xStep, dy + o0, O, n, dw + o0);
}

// dw = sum over output pixels of x[tap(p)] (x) dy[p], O a multiple of 8. Output row by output row
// (its dy rows stay in cache across taps and channel blocks); within a row each tap reads the
// pixels whose input lies inside: a contiguous range of ox.
FPRL_AVX2 void filterGradient(const float* x, const float* dy, float* dw, const Conv& g) {
  std::memset(dw, 0, static_cast<size_t>(g.kH * g.kW * g.C * g.O) * sizeof(float));
  const int64_t xStep = g.sW * g.C;
  for (int64_t b = 0; b < g.B; b++)
    for (int64_t oy = 0; oy < g.outH; oy++) {
      const float* dyrow = dy + (b * g.outH + oy) * g.outW * g.O;
      for (int64_t ky = 0; ky < g.kH; ky++) {
        const int64_t iy = oy * g.sH - g.pT + ky * g.dH;
        if (iy < 0 || iy >= g.H) continue;
        for (int64_t kx = 0; kx < g.kW; kx++) {
          // ox with 0 <= ox*sW - pL + kx*dW < W.
          const int64_t off = kx * g.dW - g.pL;
          int64_t lo = off >= 0 ? 0 : (-off + g.sW - 1) / g.sW;
          int64_t hi = g.W - off <= 0 ? 0 : (g.W - off + g.sW - 1) / g.sW;
          if (hi > g.outW) hi = g.outW;
          if (lo >= hi) continue;
          const float* xs = x + ((b * g.H + iy) * g.W + lo * g.sW + off) * g.C;
          const float* dys = dyrow + lo * g.O;
          float* dwt = dw + (ky * g.kW + kx) * g.C * g.O;
          const int64_t n = hi - lo;
          int64_t c = 0;
          // 6 channels x 16 outputs: 12 accumulators, 8 loads per 12 FMAs (any grouping of the
          // channels gives the same sums: each dw element adds its pixels in the same order).
          for (; c + 6 <= g.C; c += 6) filterBlocks<6>(xs + c, xStep, dys, g.O, n, dwt + c * g.O);
          for (; c + 4 <= g.C; c += 4) filterBlocks<4>(xs + c, xStep, dys, g.O, n, dwt + c * g.O);
          for (; c < g.C; c++) filterBlocks<1>(xs + c, xStep, dys, g.O, n, dwt + c * g.O);
        }
      }
    }
}
#endif

// The geometry and the output channels; false when malformed (see conv.cc's readGeometry).
bool readConv(napi_env env, napi_value geometry, napi_value outChannels, Conv* g) {
  int32_t* a;
  size_t n, O;
  if (!typedArray(env, geometry, &a, &n) || n != 14 || !count(env, outChannels, &O)) return false;
  for (size_t i = 0; i < n; i++)
    if (a[i] < 0) return false;
  *g = {a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], static_cast<int64_t>(O)};
  if (g->sH < 1 || g->sW < 1 || g->dH < 1 || g->dW < 1 || O > (1u << 30)) return false;
  const double limit = 9007199254740992.0;
  return static_cast<double>(g->B) * g->H * g->W * g->C < limit &&
         static_cast<double>(g->B) * g->outH * g->outW * g->O < limit;
}

// (a, b, out, geometry, O): three Float32Arrays at least as long as their shapes say.
struct Operands {
  float *a, *b, *out;
  Conv g;
};

const char* readOperands(napi_env env, napi_callback_info info, double aSize(const Conv&), double bSize(const Conv&),
                         double outSize(const Conv&), Operands* o) {
  napi_value v[5];
  if (!args(env, info, v)) return "expected 5 arguments (a, b, out, geometry, outChannels)";
  size_t aLen, bLen, outLen;
  if (!typedArray(env, v[0], &o->a, &aLen) || !typedArray(env, v[1], &o->b, &bLen) ||
      !typedArray(env, v[2], &o->out, &outLen))
    return "expected three Float32Arrays";
  if (!readConv(env, v[3], v[4], &o->g))
    return "geometry must be an Int32Array of 14 sizes (strides, dilations >= 1) and outChannels a count";
  if (static_cast<double>(aLen) < aSize(o->g) || static_cast<double>(bLen) < bSize(o->g) ||
      static_cast<double>(outLen) < outSize(o->g))
    return "an array is shorter than its shape";
  return nullptr;
}

double inputSize(const Conv& g) { return static_cast<double>(g.B) * g.H * g.W * g.C; }
double outputSize(const Conv& g) { return static_cast<double>(g.B) * g.outH * g.outW * g.O; }
double filterSize(const Conv& g) { return static_cast<double>(g.kH) * g.kW * g.C * g.O; }

// convForward(x, w, y, geometry, O): y = conv2d(x, w).
napi_value ConvForward(napi_env env, napi_callback_info info) {
  Operands o;
  if (const char* e = readOperands(env, info, inputSize, filterSize, outputSize, &o)) return failWith(env, "convForward", e);
  if (!cpuSupported()) return fail(env, "convForward: needs AVX2 and FMA");
#if FPRL_X86
  forward(o.a, o.b, o.out, o.g);
#endif
  return nullptr;
}

// convInputGradient(dy, w, dx, geometry, O): dx = the gradient of conv2d(x, w) with respect to x
// for the output gradient dy; stride 1 only. The geometry is the forward convolution's.
napi_value ConvInputGradient(napi_env env, napi_callback_info info) {
  Operands o;
  if (const char* e = readOperands(env, info, outputSize, filterSize, inputSize, &o))
    return failWith(env, "convInputGradient", e);
  if (!cpuSupported()) return fail(env, "convInputGradient: needs AVX2 and FMA");
  const Conv& g = o.g;
  if (g.sH != 1 || g.sW != 1) return fail(env, "convInputGradient: stride 1 only");
#if FPRL_X86
  // w'[ky][kx][o][c] = w[kH-1-ky][kW-1-kx][c][o]; the transposed convolution reads dy with the
  // mirrored padding (kH-1)*dH - padTop and writes an output of the input's size.
  std::vector<float> flipped(static_cast<size_t>(g.kH * g.kW * g.C * g.O));
  for (int64_t ky = 0; ky < g.kH; ky++)
    for (int64_t kx = 0; kx < g.kW; kx++) {
      const float* src = o.b + ((g.kH - 1 - ky) * g.kW + (g.kW - 1 - kx)) * g.C * g.O;
      float* dst = flipped.data() + (ky * g.kW + kx) * g.O * g.C;
      for (int64_t c = 0; c < g.C; c++)
        for (int64_t oc = 0; oc < g.O; oc++) dst[oc * g.C + c] = src[c * g.O + oc];
    }
  const Conv t{g.B, g.outH, g.outW, g.O, g.H, g.W, g.kH, g.kW, 1, 1, g.dH, g.dW,
               (g.kH - 1) * g.dH - g.pT, (g.kW - 1) * g.dW - g.pL, g.C};
  forward(o.a, flipped.data(), o.out, t);
#endif
  return nullptr;
}

// convFilterGradient(x, dy, dw, geometry, O): dw = the gradient with respect to the filter; O a
// multiple of 8.
napi_value ConvFilterGradient(napi_env env, napi_callback_info info) {
  Operands o;
  if (const char* e = readOperands(env, info, inputSize, outputSize, filterSize, &o))
    return failWith(env, "convFilterGradient", e);
  if (!cpuSupported()) return fail(env, "convFilterGradient: needs AVX2 and FMA");
  if (o.g.O % 8 != 0) return fail(env, "convFilterGradient: the output channels must be a multiple of 8");
#if FPRL_X86
  filterGradient(o.a, o.b, o.out, o.g);
#endif
  return nullptr;
}

}  // namespace

void registerDirectConv(napi_env env, napi_value exports) {
  setFunction(env, exports, "convForward", ConvForward);
  setFunction(env, exports, "convInputGradient", ConvInputGradient);
  setFunction(env, exports, "convFilterGradient", ConvFilterGradient);
}

}  // namespace fprl

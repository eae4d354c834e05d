// Fused element-wise kernels of a Face Transformer step, forward and backward (src/wasm/fused-kernels.ts
// registers them on the wasm backend; agents/vit/ops.ts and src/parallel/loss.ts call them through
// src/native/fused.ts). Why hand-written: after the matMuls, a step is memory-bound element-wise
// work that tfjs runs as one kernel per op, each reading and writing whole tensors (a LayerNorm is
// ~8 kernels forward and ~12 backward, the 11-class log-softmax with the loss and its gradient ~25
// passes over [B,H,W,11]); no library ships fused AVX2 kernels for tfjs-backend-wasm. Here each
// op is one pass (two where a row's statistics come first) over rows that stay in L1.
//
//   layerNorm / layerNormGrad   over the last axis of [N,D]; saves the row means and 1/std, not xhat
//   gelu / geluGrad             exact GELU with erf by Abramowitz & Stegun 7.1.26 (as agents/vit/ops.ts)
//   softmax / softmaxGrad       over the last axis (attention weights)
//   pixelLoss / pixelLossGrad   log-softmax over C classes per pixel with the weighted log-likelihood
//                               sum(W * logp) (cross-entropy and REINFORCE alike) and the entropy
//   reluBiasGrad                a ReLU dense layer's dy * step(y) and bias gradient (bit for bit tfjs's)
//   upsample2x / upsample2xGrad nearest x2 upsampling of NHWC maps (bit for bit the two concats of
//                               agents/vit/conv-ops.ts and their gradient's adds)
//
// Results differ from the op-by-op tfjs kernels in rounding only (another order of float32 sums,
// sums of a row kept in 8 lanes); each is deterministic (depends on shapes and values, never on
// timing) and is tested against its tfjs twin (test/wasm/fused.test.ts).
#include "napi-util.h"
#include <string>
#include <vector>

#include "simd.h"
#include "gemm.h"

#include <cmath>
#include <cstdint>
#include <cstring>

namespace fprl {
namespace {

#if FPRL_X86
// The 8 lanes of v added in a fixed order.
FPRL_AVX2 inline float hsum(__m256 v) {
  alignas(32) float l[8];
  _mm256_store_ps(l, v);
  return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

// Sum of x[0..n) in 8 lanes (lane j holds x[j], x[j+8], ...), then the tail in order.
FPRL_AVX2 inline float rowSum(const float* x, long n) {
  __m256 acc = _mm256_setzero_ps();
  long j = 0;
  for (; j + 8 <= n; j += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(x + j));
  float s = hsum(acc);
  for (; j < n; j++) s += x[j];
  return s;
}

// ---- LayerNorm over the last axis of x [N,D] ---------------------------------------------------
// y = (x - mean) * rstd * gamma + beta, rstd = 1 / sqrt(mean((x - mean)^2) + eps): the same
// sequence of float32 operations as the tfjs ops, with each row's sums in 8 lanes.
FPRL_AVX2 void layerNormRows(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                             float* rstd, long N, long D, float eps) {
  const float invD = 1.f / static_cast<float>(D);
  for (long i = 0; i < N; i++) {
    const float* xi = x + i * D;
    float* yi = y + i * D;
    const float m = rowSum(xi, D) * invD;
    const __m256 vm = _mm256_set1_ps(m);
    __m256 acc = _mm256_setzero_ps();
    long j = 0;
    for (; j + 8 <= D; j += 8) {
      const __m256 c = _mm256_sub_ps(_mm256_loadu_ps(xi + j), vm);
      acc = _mm256_add_ps(acc, _mm256_mul_ps(c, c));
    }
    float ss = hsum(acc);
    for (; j < D; j++) ss += (xi[j] - m) * (xi[j] - m);
    const float r = 1.f / std::sqrt(ss * invD + eps);
    const __m256 vr = _mm256_set1_ps(r);
    for (j = 0; j + 8 <= D; j += 8) {
      const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xi + j), vm), vr);
      _mm256_storeu_ps(yi + j, _mm256_add_ps(_mm256_mul_ps(xh, _mm256_loadu_ps(gamma + j)), _mm256_loadu_ps(beta + j)));
    }
    for (; j < D; j++) yi[j] = ((xi[j] - m) * r) * gamma[j] + beta[j];
    mean[i] = m;
    rstd[i] = r;
  }
}

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma; dgamma = sum over rows of
// dy * xhat, dbeta = sum over rows of dy (rows added in order, float32).
FPRL_AVX2 void layerNormGradRows(const float* dy, const float* x, const float* mean, const float* rstd,
                                 const float* gamma, float* dx, float* dgamma, float* dbeta, long N, long D) {
  const float invD = 1.f / static_cast<float>(D);
  std::memset(dgamma, 0, D * sizeof(float));
  std::memset(dbeta, 0, D * sizeof(float));
  for (long i = 0; i < N; i++) {
    const float* dyi = dy + i * D;
    const float* xi = x + i * D;
    float* dxi = dx + i * D;
    const __m256 vm = _mm256_set1_ps(mean[i]), vr = _mm256_set1_ps(rstd[i]);
    __m256 sg = _mm256_setzero_ps(), sgx = _mm256_setzero_ps();
    long j = 0;
    for (; j + 8 <= D; j += 8) {
      const __m256 d = _mm256_loadu_ps(dyi + j);
      const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xi + j), vm), vr);
      const __m256 g = _mm256_mul_ps(d, _mm256_loadu_ps(gamma + j));
      sg = _mm256_add_ps(sg, g);
      sgx = _mm256_add_ps(sgx, _mm256_mul_ps(g, xh));
      _mm256_storeu_ps(dgamma + j, _mm256_add_ps(_mm256_loadu_ps(dgamma + j), _mm256_mul_ps(d, xh)));
      _mm256_storeu_ps(dbeta + j, _mm256_add_ps(_mm256_loadu_ps(dbeta + j), d));
    }
    float mg = hsum(sg), mgx = hsum(sgx);
    for (long t = j; t < D; t++) {
      const float xh = (xi[t] - mean[i]) * rstd[i];
      const float g = dyi[t] * gamma[t];
      mg += g;
      mgx += g * xh;
      dgamma[t] += dyi[t] * xh;
      dbeta[t] += dyi[t];
    }
    mg *= invD;
    mgx *= invD;
    const __m256 vmg = _mm256_set1_ps(mg), vmgx = _mm256_set1_ps(mgx);
    for (j = 0; j + 8 <= D; j += 8) {
      const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xi + j), vm), vr);
      const __m256 g = _mm256_mul_ps(_mm256_loadu_ps(dyi + j), _mm256_loadu_ps(gamma + j));
      const __m256 t = _mm256_sub_ps(_mm256_sub_ps(g, vmg), _mm256_mul_ps(xh, vmgx));
      _mm256_storeu_ps(dxi + j, _mm256_mul_ps(t, vr));
    }
    for (; j < D; j++) {
      const float xh = (xi[j] - mean[i]) * rstd[i];
      dxi[j] = ((dyi[j] * gamma[j] - mg) - xh * mgx) * rstd[i];
    }
  }
}

// ---- GELU -------------------------------------------------------------------------------------
// erf(|z|) = 1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) exp(-z^2), t = 1 / (1 + p |z|), z = x/sqrt2
// (absolute error < 1.5e-7); y = x/2 (1 + erf(z)); y' = Phi(x) + x phi(x), phi(x) = exp(-z^2)/sqrt(2 pi).
struct GeluParts {
  __m256 phi;  // Phi(x) = (1 + erf(z)) / 2
  __m256 e;    // exp(-z^2)
};

FPRL_AVX2 inline GeluParts geluParts(__m256 x) {
  const __m256 signMask = _mm256_set1_ps(-0.f);
  const __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
  const __m256 a = _mm256_andnot_ps(signMask, z);
  const __m256 one = _mm256_set1_ps(1.f);
  const __m256 t = _mm256_div_ps(one, _mm256_add_ps(one, _mm256_mul_ps(a, _mm256_set1_ps(0.3275911f))));
  __m256 poly = _mm256_add_ps(_mm256_set1_ps(-1.453152027f), _mm256_mul_ps(t, _mm256_set1_ps(1.061405429f)));
  poly = _mm256_add_ps(_mm256_set1_ps(1.421413741f), _mm256_mul_ps(t, poly));
  poly = _mm256_add_ps(_mm256_set1_ps(-0.284496736f), _mm256_mul_ps(t, poly));
  poly = _mm256_add_ps(_mm256_set1_ps(0.254829592f), _mm256_mul_ps(t, poly));
  poly = _mm256_mul_ps(t, poly);
  const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(a, a)));
  const __m256 erfAbs = _mm256_sub_ps(one, _mm256_mul_ps(poly, e));
  const __m256 erf = _mm256_or_ps(erfAbs, _mm256_and_ps(signMask, z));  // erfAbs >= 0: copy z's sign
  return {_mm256_mul_ps(_mm256_set1_ps(0.5f), _mm256_add_ps(one, erf)), e};
}

// Runs f over x in 8-float blocks; the tail goes through the same arithmetic in a padded block.
template <typename F>
FPRL_AVX2 inline void blocks8(long n, F f) {
  long i = 0;
  for (; i + 8 <= n; i += 8) f(i, 8);
  if (i < n) f(i, n - i);
}

FPRL_AVX2 inline __m256 load8(const float* p, long k) {
  if (k == 8) return _mm256_loadu_ps(p);
  alignas(32) float b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::memcpy(b, p, k * sizeof(float));
  return _mm256_load_ps(b);
}

FPRL_AVX2 inline void store8(float* p, __m256 v, long k) {
  if (k == 8) return _mm256_storeu_ps(p, v);
  alignas(32) float b[8];
  _mm256_store_ps(b, v);
  std::memcpy(p, b, k * sizeof(float));
}

FPRL_AVX2 void geluArray(const float* x, float* y, long n) {
  blocks8(n, [&](long i, long k) FPRL_AVX2 {
    const __m256 v = load8(x + i, k);
    store8(y + i, _mm256_mul_ps(v, geluParts(v).phi), k);
  });
}

FPRL_AVX2 void geluGradArray(const float* x, const float* dy, float* dx, long n) {
  const __m256 invSqrt2Pi = _mm256_set1_ps(0.39894228040143268f);
  blocks8(n, [&](long i, long k) FPRL_AVX2 {
    const __m256 v = load8(x + i, k);
    const GeluParts p = geluParts(v);
    const __m256 d = _mm256_add_ps(p.phi, _mm256_mul_ps(v, _mm256_mul_ps(p.e, invSqrt2Pi)));
    store8(dx + i, _mm256_mul_ps(load8(dy + i, k), d), k);
  });
}

// ---- softmax over the last axis of [rows, n] ----------------------------------------------------
FPRL_AVX2 void softmaxRows(const float* x, float* y, long rows, long n) {
  for (long r = 0; r < rows; r++) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    // The row's maximum in 8 lanes (max is exact: any order gives the same value).
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    long j = 0;
    for (; j + 8 <= n; j += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(xr + j));
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, vmax);
    float m = -INFINITY;
    for (float l : lanes) m = l > m ? l : m;
    for (; j < n; j++) m = xr[j] > m ? xr[j] : m;
    const __m256 vm = _mm256_set1_ps(m);
    __m256 acc = _mm256_setzero_ps();
    float tail = 0.f;
    blocks8(n, [&](long i, long k) FPRL_AVX2 {
      const __m256 e = exp8(_mm256_sub_ps(load8(xr + i, k), vm));
      store8(yr + i, e, k);
      if (k == 8) acc = _mm256_add_ps(acc, e);
      else
        for (long t = 0; t < k; t++) tail += yr[i + t];
    });
    const __m256 inv = _mm256_set1_ps(1.f / (hsum(acc) + tail));
    blocks8(n, [&](long i, long k) FPRL_AVX2 { store8(yr + i, _mm256_mul_ps(load8(yr + i, k), inv), k); });
  }
}

// dx = y * (dy - sum(dy * y)) per row.
FPRL_AVX2 void softmaxGradRows(const float* y, const float* dy, float* dx, long rows, long n) {
  for (long r = 0; r < rows; r++) {
    const float* yr = y + r * n;
    const float* dr = dy + r * n;
    float* out = dx + r * n;
    __m256 acc = _mm256_setzero_ps();
    long j = 0;
    for (; j + 8 <= n; j += 8) acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_loadu_ps(yr + j), _mm256_loadu_ps(dr + j)));
    float s = hsum(acc);
    for (; j < n; j++) s += yr[j] * dr[j];
    const __m256 vs = _mm256_set1_ps(s);
    for (j = 0; j + 8 <= n; j += 8)
      _mm256_storeu_ps(out + j, _mm256_mul_ps(_mm256_loadu_ps(yr + j), _mm256_sub_ps(_mm256_loadu_ps(dr + j), vs)));
    for (; j < n; j++) out[j] = yr[j] * (dr[j] - s);
  }
}

// ---- the ReLU dense layer's backward ---------------------------------------------------------------
// dx = dy * step(y) and dbias = the column sums of dx over [N,M]: bit for bit tfjs's fused matMul
// gradient, mul(dy, step(y)) (dy * 1 or dy * 0, so -0 and inf * 0 = NaN as there) and then the
// addon's sum over rows (sumMiddle in kernels.cc: rows in order in float32 per column for M >= 8,
// in float64 for M < 8), in one pass instead of three.
FPRL_AVX2 void reluBiasGradRows(const float* dy, const float* y, float* dx, float* dbias, long N, long M) {
  if (M < 8) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (long r = 0; r < N; r++)
      for (long j = 0; j < M; j++) {
        const float d = dy[r * M + j] * (y[r * M + j] > 0.f ? 1.f : 0.f);
        dx[r * M + j] = d;
        acc[j] += d;
      }
    for (long j = 0; j < M; j++) dbias[j] = static_cast<float>(acc[j] * 1.0);
    return;
  }
  std::memset(dbias, 0, M * sizeof(float));
  const __m256 one = _mm256_set1_ps(1.f), zero = _mm256_setzero_ps();
  for (long r = 0; r < N; r++) {
    const float* dr = dy + r * M;
    const float* yr = y + r * M;
    float* out = dx + r * M;
    long j = 0;
    for (; j + 8 <= M; j += 8) {
      const __m256 s = _mm256_and_ps(_mm256_cmp_ps(_mm256_loadu_ps(yr + j), zero, _CMP_GT_OQ), one);
      const __m256 d = _mm256_mul_ps(_mm256_loadu_ps(dr + j), s);
      _mm256_storeu_ps(out + j, d);
      _mm256_storeu_ps(dbias + j, _mm256_add_ps(_mm256_loadu_ps(dbias + j), d));
    }
    for (; j < M; j++) {
      const float d = dr[j] * (yr[j] > 0.f ? 1.f : 0.f);
      out[j] = d;
      dbias[j] += d;
    }
  }
}

// ---- the per-pixel loss -------------------------------------------------------------------------
// z, w [P,C]: logp = z - lse(z) per pixel. C = 11 fills no vector register, so the forward takes
// pixels 8 at a time, one lane each: class c of 8 pixels is a gather with stride C (measured 3x
// faster than pixel by pixel: the max, the sums and the log-sum-exp are per pixel). Each lane runs
// the same float32 operations in the same order as the scalar loop (used for the last P mod 8
// pixels), so a pixel's numbers do not depend on its position.

FPRL_AVX2 void expBlock(float* buf, long n) {
  blocks8(n, [&](long i, long k) FPRL_AVX2 { store8(buf + i, exp8(load8(buf + i, k)), k); });
}

// One pixel: m = max, s = sum exp(z - m), lse = m + log s; pol = sum w logp, ent = -sum p logp.
FPRL_AVX2 inline void pixelForward(const float* zp, const float* wp, long C, float* e, float* lse, float* pol, float* ent) {
  float m = -INFINITY;
  for (long c = 0; c < C; c++) m = zp[c] > m ? zp[c] : m;
  for (long c = 0; c < C; c++) e[c] = zp[c] - m;
  expBlock(e, C);
  float s = 0.f;
  for (long c = 0; c < C; c++) s += e[c];
  const float l = m + std::log(s);
  const float inv = 1.f / s;
  float a = 0.f, h = 0.f;
  for (long c = 0; c < C; c++) {
    const float lp = zp[c] - l;
    a += wp[c] * lp;
    h -= (e[c] * inv) * lp;
  }
  *lse = l;
  *pol = a;
  *ent = h;
}

// Returns sum(w * logp) and the entropy sum -sum(p * logp) in stats (float64, pixels in order);
// lse[P] saved for the gradient.
FPRL_AVX2 void pixelLossRows(const float* z, const float* w, float* lse, long P, long C, double* stats) {
  alignas(32) float zc[32][8], ec[32][8], lanes[8], pol8[8], ent8[8];
  double policy = 0, entropy = 0;
  const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(static_cast<int>(C)));
  long p0 = 0;
  for (; p0 + 8 <= P; p0 += 8) {
    const float* zg = z + p0 * C;
    const float* wg = w + p0 * C;
    __m256 m = _mm256_set1_ps(-INFINITY);
    for (long c = 0; c < C; c++) {
      const __m256 v = _mm256_i32gather_ps(zg + c, idx, 4);
      _mm256_store_ps(zc[c], v);
      // (v > m ? v : m), as the scalar loop, lane by lane
      m = _mm256_blendv_ps(m, v, _mm256_cmp_ps(v, m, _CMP_GT_OQ));
    }
    __m256 s = _mm256_setzero_ps();
    for (long c = 0; c < C; c++) {
      const __m256 e = exp8(_mm256_sub_ps(_mm256_load_ps(zc[c]), m));
      _mm256_store_ps(ec[c], e);
      s = _mm256_add_ps(s, e);
    }
    _mm256_store_ps(lanes, s);
    for (int k = 0; k < 8; k++) lanes[k] = std::log(lanes[k]);
    const __m256 l = _mm256_add_ps(m, _mm256_load_ps(lanes));
    _mm256_storeu_ps(lse + p0, l);
    const __m256 inv = _mm256_div_ps(_mm256_set1_ps(1.f), s);
    __m256 a = _mm256_setzero_ps(), h = _mm256_setzero_ps();
    for (long c = 0; c < C; c++) {
      const __m256 lp = _mm256_sub_ps(_mm256_load_ps(zc[c]), l);
      a = _mm256_add_ps(a, _mm256_mul_ps(_mm256_i32gather_ps(wg + c, idx, 4), lp));
      h = _mm256_sub_ps(h, _mm256_mul_ps(_mm256_mul_ps(_mm256_load_ps(ec[c]), inv), lp));
    }
    _mm256_store_ps(pol8, a);
    _mm256_store_ps(ent8, h);
    for (int k = 0; k < 8; k++) {
      policy += pol8[k];
      entropy += ent8[k];
    }
  }
  alignas(32) float e[32];
  for (; p0 < P; p0++) {
    float a, h;
    pixelForward(z + p0 * C, w + p0 * C, C, e, lse + p0, &a, &h);
    policy += a;
    entropy += h;
  }
  stats[0] = policy;
  stats[1] = entropy;
}

// dz = a (p sum(w) - w) - b p (logp + H), H = -sum(p logp): the gradient of
// a * (-sum(w logp)) + b * sum_p H_p with respect to the logits. Here pixels stay pixel-major (a
// chunk's logp written straight to dz, exponentiated 8 values at a time): measured faster than
// gathering 8 pixels per vector, which needs a scatter back on AVX2.
constexpr long kChunk = 64;

FPRL_AVX2 void pixelLossGradRows(const float* z, const float* w, const float* lse, float* dz, long P, long C,
                                 float a, float b) {
  alignas(32) float buf[kChunk * 32];
  for (long p0 = 0; p0 < P; p0 += kChunk) {
    const long np = P - p0 < kChunk ? P - p0 : kChunk;
    const float* zc = z + p0 * C;
    for (long p = 0; p < np; p++)
      for (long c = 0; c < C; c++) buf[p * C + c] = zc[p * C + c] - lse[p0 + p];
    std::memcpy(dz + p0 * C, buf, np * C * sizeof(float));  // logp, read back below
    expBlock(buf, np * C);
    for (long p = 0; p < np; p++) {
      const float* wp = w + (p0 + p) * C;
      float* dp = dz + (p0 + p) * C;
      const float* pr = buf + p * C;
      float sw = 0.f, h = 0.f;
      for (long c = 0; c < C; c++) {
        sw += wp[c];
        h -= pr[c] * dp[c];
      }
      for (long c = 0; c < C; c++) dp[c] = a * (pr[c] * sw - wp[c]) - b * (pr[c] * (dp[c] + h));
    }
  }
}
#else
void layerNormRows(const float*, const float*, const float*, float*, float*, float*, long, long, float) {}
void layerNormGradRows(const float*, const float*, const float*, const float*, const float*, float*, float*, float*,
                       long, long) {}
void geluArray(const float*, float*, long) {}
void geluGradArray(const float*, const float*, float*, long) {}
void softmaxRows(const float*, float*, long, long) {}
void softmaxGradRows(const float*, const float*, float*, long, long) {}
void pixelLossRows(const float*, const float*, float*, long, long, double*) {}
void pixelLossGradRows(const float*, const float*, const float*, float*, long, long, float, float) {}
void reluBiasGradRows(const float*, const float*, float*, float*, long, long) {}
#endif

// ---- N-API glue: every length is checked against the shape before anything is read -------------

bool shape2(napi_env env, napi_value a, napi_value b, size_t* N, size_t* D) {
  return count(env, a, N) && count(env, b, D) && *D > 0 && *N <= INT32_MAX && *D <= INT32_MAX;
}

// layerNorm(x, gamma, beta, y, mean, rstd, N, D, eps)
napi_value LayerNorm(napi_env env, napi_callback_info info) {
  napi_value a[9];
  if (!args(env, info, a)) return fail(env, "layerNorm: expected 9 arguments");
  float* p[6];
  size_t len[6], N, D;
  for (int i = 0; i < 6; i++)
    if (!typedArray(env, a[i], &p[i], &len[i])) return fail(env, "layerNorm: arrays must be Float32Arrays");
  double eps;
  if (!shape2(env, a[6], a[7], &N, &D) || napi_get_value_double(env, a[8], &eps) != napi_ok)
    return fail(env, "layerNorm: N, D must be integers (D > 0) and eps a number");
  if (len[0] < N * D || len[3] < N * D || len[1] < D || len[2] < D || len[4] < N || len[5] < N)
    return fail(env, "layerNorm: an array is shorter than its shape");
  layerNormRows(p[0], p[1], p[2], p[3], p[4], p[5], static_cast<long>(N), static_cast<long>(D), static_cast<float>(eps));
  return nullptr;
}

// layerNormGrad(dy, x, mean, rstd, gamma, dx, dgamma, dbeta, N, D)
napi_value LayerNormGrad(napi_env env, napi_callback_info info) {
  napi_value a[10];
  if (!args(env, info, a)) return fail(env, "layerNormGrad: expected 10 arguments");
  float* p[8];
  size_t len[8], N, D;
  for (int i = 0; i < 8; i++)
    if (!typedArray(env, a[i], &p[i], &len[i])) return fail(env, "layerNormGrad: arrays must be Float32Arrays");
  if (!shape2(env, a[8], a[9], &N, &D)) return fail(env, "layerNormGrad: N, D must be integers (D > 0)");
  if (len[0] < N * D || len[1] < N * D || len[5] < N * D || len[2] < N || len[3] < N || len[4] < D || len[6] < D ||
      len[7] < D)
    return fail(env, "layerNormGrad: an array is shorter than its shape");
  layerNormGradRows(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], static_cast<long>(N), static_cast<long>(D));
  return nullptr;
}

// gelu(x, y)
napi_value Gelu(napi_env env, napi_callback_info info) {
  napi_value a[2];
  float *x, *y;
  size_t n, m;
  if (!args(env, info, a) || !typedArray(env, a[0], &x, &n) || !typedArray(env, a[1], &y, &m))
    return fail(env, "gelu: expected two Float32Arrays");
  if (m < n) return fail(env, "gelu: y is shorter than x");
  geluArray(x, y, static_cast<long>(n));
  return nullptr;
}

// geluGrad(x, dy, dx)
napi_value GeluGrad(napi_env env, napi_callback_info info) {
  napi_value a[3];
  float *x, *dy, *dx;
  size_t n, m, k;
  if (!args(env, info, a) || !typedArray(env, a[0], &x, &n) || !typedArray(env, a[1], &dy, &m) ||
      !typedArray(env, a[2], &dx, &k))
    return fail(env, "geluGrad: expected three Float32Arrays");
  if (m < n || k < n) return fail(env, "geluGrad: dy or dx is shorter than x");
  geluGradArray(x, dy, dx, static_cast<long>(n));
  return nullptr;
}

// The shapes of an attention call, qkv [batch*tokens, 3*D] with D = heads*hd, and its scale.
struct AttentionShape {
  size_t batch, tokens, heads, D, hd;
  float scale;
};

// Reads batch, tokens, heads and scale (a[0..3]) and checks qkv's length against them.
bool attentionShape(napi_env env, napi_value* a, size_t nIn, AttentionShape* s, const char** why) {
  double scale;
  if (!count(env, a[0], &s->batch) || !count(env, a[1], &s->tokens) || !count(env, a[2], &s->heads) || s->heads == 0 ||
      s->tokens == 0 || s->tokens > (1 << 20)) {
    *why = "batch, tokens and heads must be integers (tokens, heads > 0)";
    return false;
  }
  if (napi_get_value_double(env, a[3], &scale) != napi_ok) {
    *why = "scale must be a number";
    return false;
  }
  s->scale = static_cast<float>(scale);
  const size_t rows = s->batch * s->tokens;
  if (rows == 0) {
    s->D = s->hd = 0;
    return true;
  }
  if (nIn % rows != 0 || (nIn / rows) % (3 * s->heads) != 0) {
    *why = "qkv is not [batch*tokens, 3*heads*hd]";
    return false;
  }
  s->D = nIn / rows / 3, s->hd = s->D / s->heads;
  return true;
}

// out [t, hd] (row stride ldOut) = in [t, hd] (row stride ldIn) * s: the one float32 multiply of
// the ops' `tf.mul(q, scale)` (one head's q read in place into a packed qs, for the forward and
// the gradient's dk = dS^T qs) and of its gradient (dq = dqs * scale written into dqkv).
void scaleHead(const float* in, long ldIn, long t, size_t hd, float s, float* out, long ldOut) {
  for (long i = 0; i < t; i++)
    for (size_t c = 0; c < hd; c++) out[i * ldOut + c] = in[i * ldIn + c] * s;
}

// attention(qkv, out, weights, batch, tokens, heads, scale): multi-head self-attention. qkv
// [batch*tokens, 3*D] holds q, k, v side by side (D = heads*hd), out [batch*tokens, D] gets every
// head's context in its own columns; weights, when not null, [batch*heads, tokens, tokens] gets
// the softmax weights (what the gradient needs; an inference pass passes null). Per image and
// head: q*scale (one float32 multiply), scores = (q*scale) k^T, softmax over each row
// (softmaxRows), context = weights v. These are the ops of agents/vit/block.ts's selfAttention,
// each with the bits of the kernel that path runs (gemmStrided is tf.matMul's native product), but
// q, k and v are read where they lie and the context written where the head merge puts it: the
// split, the three head transposes and the merge transpose are gone, and a 256 x 256 score matrix
// stays in L2 between its product, its softmax and the next product.
napi_value Attention(napi_env env, napi_callback_info info) {
  napi_value a[7];
  float *qkv, *out, *weights;
  size_t nIn, nOut, nW;
  if (!args(env, info, a) || !typedArray(env, a[0], &qkv, &nIn) || !typedArray(env, a[1], &out, &nOut) ||
      !optionalTypedArray(env, a[2], &weights, &nW))
    return fail(env, "attention: expected qkv and out Float32Arrays and weights (a Float32Array or null)");
  AttentionShape sh;
  const char* why = nullptr;
  if (!attentionShape(env, a + 3, nIn, &sh, &why)) return fail(env, (std::string("attention: ") + why).c_str());
  const size_t T = sh.tokens, D = sh.D, hd = sh.hd, rows = sh.batch * T;
  if (rows == 0) return nullptr;
  if (nOut < rows * D) return fail(env, "attention: out is shorter than [batch*tokens, D]");
  if (weights && nW < sh.batch * sh.heads * T * T) return fail(env, "attention: weights is shorter than [batch*heads, tokens, tokens]");
  const long t = static_cast<long>(T), ld = static_cast<long>(3 * D);
  const int n = static_cast<int>(T), d = static_cast<int>(hd);
  const float s = sh.scale;
  // Scratch per thread: the scaled q of one head and, without a weights output, its score matrix.
  thread_local std::vector<float> qs, scratch;
  qs.resize(T * hd);
  if (!weights) scratch.resize(T * T);
  for (size_t b = 0; b < sh.batch; b++) {
    const float* base = qkv + b * T * 3 * D;
    for (size_t h = 0; h < sh.heads; h++) {
      const float* q = base + h * hd;
      const float* k = base + D + h * hd;
      const float* v = base + 2 * D + h * hd;
      float* w = weights ? weights + (b * sh.heads + h) * T * T : scratch.data();
      scaleHead(q, ld, t, hd, s, qs.data(), d);
      // scores[i, j] = sum over c of qs[i, c] * k[j, c]: B(c, j) = k[j*ld + c].
      if (!gemmStrided(n, n, d, qs.data(), d, 1, k, 1, ld, w, n))
        return fail(env, "attention: out of memory for the packing buffers");
      softmaxRows(w, w, t, t);
      if (!gemmStrided(n, d, n, w, n, 1, v, ld, 1, out + b * T * D + h * hd, static_cast<long>(D)))
        return fail(env, "attention: out of memory for the packing buffers");
    }
  }
  return nullptr;
}

// attentionGrad(qkv, weights, dy, dqkv, batch, tokens, heads, scale): the gradient of attention
// with respect to qkv, from the saved weights and dy = d(out) [batch*tokens, D]. Per image and
// head, the products tfjs's BatchMatMul gradient takes (C = W v: dW = dC v^T, dv = W^T dC; S =
// qs k^T: dqs = dS k, dk = dS^T qs), softmaxGradRows for dS (FprlSoftmaxGrad), dq = dqs * scale
// (the Mul gradient), each written where the split's gradient (a concat) and the head transposes
// would put it: the same bits as the taped ops.
napi_value AttentionGrad(napi_env env, napi_callback_info info) {
  napi_value a[8];
  float *qkv, *weights, *dy, *dqkv;
  size_t nIn, nW, nDy, nDq;
  if (!args(env, info, a) || !typedArray(env, a[0], &qkv, &nIn) || !typedArray(env, a[1], &weights, &nW) ||
      !typedArray(env, a[2], &dy, &nDy) || !typedArray(env, a[3], &dqkv, &nDq))
    return fail(env, "attentionGrad: expected qkv, weights, dy and dqkv Float32Arrays");
  AttentionShape sh;
  const char* why = nullptr;
  if (!attentionShape(env, a + 4, nIn, &sh, &why)) return fail(env, (std::string("attentionGrad: ") + why).c_str());
  const size_t T = sh.tokens, D = sh.D, hd = sh.hd, rows = sh.batch * T;
  if (rows == 0) return nullptr;
  if (nW < sh.batch * sh.heads * T * T || nDy < rows * D || nDq < rows * 3 * D)
    return fail(env, "attentionGrad: weights, dy or dqkv is shorter than its shape");
  const long t = static_cast<long>(T), ld = static_cast<long>(3 * D), ldy = static_cast<long>(D);
  const int n = static_cast<int>(T), d = static_cast<int>(hd);
  const float s = sh.scale;
  thread_local std::vector<float> qs, dqs, dW, dS;
  qs.resize(T * hd), dqs.resize(T * hd), dW.resize(T * T), dS.resize(T * T);
  const char* oom = "attentionGrad: out of memory for the packing buffers";
  for (size_t b = 0; b < sh.batch; b++) {
    const float* base = qkv + b * T * 3 * D;
    const float* dC = dy + b * T * D;
    float* dbase = dqkv + b * T * 3 * D;
    for (size_t h = 0; h < sh.heads; h++) {
      const float* q = base + h * hd;
      const float* k = base + D + h * hd;
      const float* v = base + 2 * D + h * hd;
      const float* w = weights + (b * sh.heads + h) * T * T;
      const float* dCh = dC + h * hd;
      scaleHead(q, ld, t, hd, s, qs.data(), d);
      // dW = dC v^T: dW[i, j] = sum over c of dC[i, c] v[j, c].
      if (!gemmStrided(n, n, d, dCh, ldy, 1, v, 1, ld, dW.data(), n)) return fail(env, oom);
      // dv = W^T dC: dv[j, c] = sum over i of W[i, j] dC[i, c].
      if (!gemmStrided(n, d, n, w, 1, n, dCh, ldy, 1, dbase + 2 * D + h * hd, ld)) return fail(env, oom);
      softmaxGradRows(w, dW.data(), dS.data(), t, t);
      // dqs = dS k: dqs[i, c] = sum over j of dS[i, j] k[j, c]; dq = dqs * scale.
      if (!gemmStrided(n, d, n, dS.data(), n, 1, k, ld, 1, dqs.data(), d)) return fail(env, oom);
      scaleHead(dqs.data(), d, t, hd, s, dbase + h * hd, ld);
      // dk = dS^T qs: dk[j, c] = sum over i of dS[i, j] qs[i, c].
      if (!gemmStrided(n, d, n, dS.data(), 1, n, qs.data(), d, 1, dbase + D + h * hd, ld)) return fail(env, oom);
    }
  }
  return nullptr;
}

// softmax(x, y, rows, n)
napi_value Softmax(napi_env env, napi_callback_info info) {
  napi_value a[4];
  float *x, *y;
  size_t lx, ly, rows, n;
  if (!args(env, info, a) || !typedArray(env, a[0], &x, &lx) || !typedArray(env, a[1], &y, &ly))
    return fail(env, "softmax: expected two Float32Arrays, rows and n");
  if (!shape2(env, a[2], a[3], &rows, &n)) return fail(env, "softmax: rows, n must be integers (n > 0)");
  if (lx < rows * n || ly < rows * n) return fail(env, "softmax: an array is shorter than rows * n");
  softmaxRows(x, y, static_cast<long>(rows), static_cast<long>(n));
  return nullptr;
}

// softmaxGrad(y, dy, dx, rows, n)
napi_value SoftmaxGrad(napi_env env, napi_callback_info info) {
  napi_value a[5];
  float *y, *dy, *dx;
  size_t l0, l1, l2, rows, n;
  if (!args(env, info, a) || !typedArray(env, a[0], &y, &l0) || !typedArray(env, a[1], &dy, &l1) ||
      !typedArray(env, a[2], &dx, &l2))
    return fail(env, "softmaxGrad: expected three Float32Arrays, rows and n");
  if (!shape2(env, a[3], a[4], &rows, &n)) return fail(env, "softmaxGrad: rows, n must be integers (n > 0)");
  if (l0 < rows * n || l1 < rows * n || l2 < rows * n) return fail(env, "softmaxGrad: an array is shorter than rows * n");
  softmaxGradRows(y, dy, dx, static_cast<long>(rows), static_cast<long>(n));
  return nullptr;
}

// pixelLoss(z, w, lse, stats: Float64Array(2), P, C)
napi_value PixelLoss(napi_env env, napi_callback_info info) {
  napi_value a[6];
  float *z, *w, *lse;
  double* stats;
  size_t lz, lw, ll, ls, P, C;
  if (!args(env, info, a) || !typedArray(env, a[0], &z, &lz) || !typedArray(env, a[1], &w, &lw) ||
      !typedArray(env, a[2], &lse, &ll) || !typedArray(env, a[3], &stats, &ls) || ls < 2)
    return fail(env, "pixelLoss: expected z, w, lse (Float32Arrays), stats (Float64Array(2)), P and C");
  if (!shape2(env, a[4], a[5], &P, &C) || C > 32) return fail(env, "pixelLoss: P, C must be integers, 0 < C <= 32");
  if (lz < P * C || lw < P * C || ll < P) return fail(env, "pixelLoss: an array is shorter than its shape");
  pixelLossRows(z, w, lse, static_cast<long>(P), static_cast<long>(C), stats);
  return nullptr;
}

// pixelLossGrad(z, w, lse, dz, P, C, a, b)
napi_value PixelLossGrad(napi_env env, napi_callback_info info) {
  napi_value a[8];
  float *z, *w, *lse, *dz;
  size_t lz, lw, ll, ld, P, C;
  double ca, cb;
  if (!args(env, info, a) || !typedArray(env, a[0], &z, &lz) || !typedArray(env, a[1], &w, &lw) ||
      !typedArray(env, a[2], &lse, &ll) || !typedArray(env, a[3], &dz, &ld))
    return fail(env, "pixelLossGrad: expected z, w, lse, dz (Float32Arrays), P, C, a and b");
  if (!shape2(env, a[4], a[5], &P, &C) || C > 32)
    return fail(env, "pixelLossGrad: P, C must be integers, 0 < C <= 32");
  if (napi_get_value_double(env, a[6], &ca) != napi_ok || napi_get_value_double(env, a[7], &cb) != napi_ok)
    return fail(env, "pixelLossGrad: a and b must be numbers");
  if (lz < P * C || lw < P * C || ld < P * C || ll < P) return fail(env, "pixelLossGrad: an array is shorter than its shape");
  pixelLossGradRows(z, w, lse, dz, static_cast<long>(P), static_cast<long>(C), static_cast<float>(ca),
                    static_cast<float>(cb));
  return nullptr;
}

// reluBiasGrad(dy, y, dx, dbias, N, M)
napi_value ReluBiasGrad(napi_env env, napi_callback_info info) {
  napi_value a[6];
  float *dy, *y, *dx, *db;
  size_t l0, l1, l2, l3, N, M;
  if (!args(env, info, a) || !typedArray(env, a[0], &dy, &l0) || !typedArray(env, a[1], &y, &l1) ||
      !typedArray(env, a[2], &dx, &l2) || !typedArray(env, a[3], &db, &l3))
    return fail(env, "reluBiasGrad: expected dy, y, dx, dbias (Float32Arrays), N and M");
  if (!shape2(env, a[4], a[5], &N, &M)) return fail(env, "reluBiasGrad: N, M must be integers (M > 0)");
  if (l0 < N * M || l1 < N * M || l2 < N * M || l3 < M) return fail(env, "reluBiasGrad: an array is shorter than its shape");
  reluBiasGradRows(dy, y, dx, db, static_cast<long>(N), static_cast<long>(M));
  return nullptr;
}

// y[b, 2i+s, 2j+t, :] = x[b, i, j, :] for s, t in {0, 1}: x [rows = B*H, W, C] -> y [B, 2H, 2W, C].
void upsample2xRows(const float* x, float* y, size_t rows, size_t W, size_t C) {
  const size_t outRow = 2 * W * C;
  for (size_t r = 0; r < rows; r++) {
    const float* xr = x + r * W * C;
    float* top = y + 2 * r * outRow;
    for (size_t j = 0; j < W; j++) {
      std::memcpy(top + 2 * j * C, xr + j * C, C * sizeof(float));
      std::memcpy(top + (2 * j + 1) * C, xr + j * C, C * sizeof(float));
    }
    std::memcpy(top + outRow, top, outRow * sizeof(float));
  }
}

// dx[b, i, j, c] = (dy[2i, 2j] + dy[2i+1, 2j]) + (dy[2i, 2j+1] + dy[2i+1, 2j+1]) at channel c: the
// adds of the concats' gradient (the row concat's two halves first, then the channel concat's), so
// the same bits as the tfjs ops.
void upsample2xGradRows(const float* dy, float* dx, size_t rows, size_t W, size_t C) {
  const size_t outRow = 2 * W * C;
  for (size_t r = 0; r < rows; r++) {
    const float* top = dy + 2 * r * outRow;
    const float* bottom = top + outRow;
    float* dr = dx + r * W * C;
    for (size_t j = 0; j < W; j++) {
      const float *t0 = top + 2 * j * C, *t1 = t0 + C, *b0 = bottom + 2 * j * C, *b1 = b0 + C;
      float* d = dr + j * C;
      for (size_t c = 0; c < C; c++) d[c] = (t0[c] + b0[c]) + (t1[c] + b1[c]);
    }
  }
}

// upsample2x(x, y, rows, W, C) / upsample2xGrad(dy, dx, rows, W, C): rows = B*H of the input.
napi_value Upsample(napi_env env, napi_callback_info info, bool grad) {
  const char* name = grad ? "upsample2xGrad" : "upsample2x";
  napi_value a[5];
  float *in, *out;
  size_t lIn, lOut, rows, W, C;
  if (!args(env, info, a) || !typedArray(env, a[0], &in, &lIn) || !typedArray(env, a[1], &out, &lOut) ||
      !count(env, a[2], &rows) || !count(env, a[3], &W) || !count(env, a[4], &C))
    return failWith(env, name, "expected two Float32Arrays, rows, W and C");
  const size_t small = rows * W * C;
  if ((grad ? lOut : lIn) < small || (grad ? lIn : lOut) < 4 * small)
    return failWith(env, name, "an array is shorter than its shape");
  if (grad)
    upsample2xGradRows(in, out, rows, W, C);
  else
    upsample2xRows(in, out, rows, W, C);
  return nullptr;
}
napi_value Upsample2x(napi_env env, napi_callback_info info) { return Upsample(env, info, false); }
napi_value Upsample2xGrad(napi_env env, napi_callback_info info) { return Upsample(env, info, true); }

}  // namespace

void registerFused(napi_env env, napi_value exports) {
  setFunction(env, exports, "layerNorm", LayerNorm);
  setFunction(env, exports, "layerNormGrad", LayerNormGrad);
  setFunction(env, exports, "gelu", Gelu);
  setFunction(env, exports, "geluGrad", GeluGrad);
  setFunction(env, exports, "softmax", Softmax);
  setFunction(env, exports, "attention", Attention);
  setFunction(env, exports, "attentionGrad", AttentionGrad);
  setFunction(env, exports, "softmaxGrad", SoftmaxGrad);
  setFunction(env, exports, "pixelLoss", PixelLoss);
  setFunction(env, exports, "pixelLossGrad", PixelLossGrad);
  setFunction(env, exports, "reluBiasGrad", ReluBiasGrad);
  setFunction(env, exports, "upsample2x", Upsample2x);
  setFunction(env, exports, "upsample2xGrad", Upsample2xGrad);
}

}  // namespace fprl

// The hot loops of a REINFORCE step over K x B x H x W pixels, for agents/nets/sampling.ts,
// agents/advantage.ts, rewards/credit.ts and src/metrics/count.ts. Each one is the JS loop beside
// it (which stays the reference and the fallback) rewritten with the same arithmetic in the same order: float32
// values widened to double where JS numbers are doubles, rounded to float32 where JS stores into a
// Float32Array, no fused multiply-add (binding.gyp: -ffp-contract=off). So results are bit for bit
// those of the JS code (test/native/bandit.test.ts), and a run does not depend on whether the
// addon was built.
#include <cmath>
#include <cstring>

#include "napi-util.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define FPRL_X86 1
#else
#define FPRL_X86 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FPRL_AVX2 __attribute__((target("avx2,fma,popcnt")))
#else
#define FPRL_AVX2
#endif

namespace fprl {
namespace {

// ---- the loops ---------------------------------------------------------------------------------

// sampleCategorical: sample j of pixel i is the first class whose running sum exceeds
// u[j*n + i]; when rounding leaves the total at or below u, the last class with mass.
void sampleScalar(const float* row, const double* cdf, size_t C, double x, int32_t* out) {
  size_t a = 0;
  while (a < C && !(x < cdf[a])) a++;
  if (a == C) {
    a = C - 1;
    if (cdf[C - 1] <= x)
      while (a > 0 && row[a] == 0.f) a--;
  }
  *out = static_cast<int32_t>(a);
}

#if FPRL_X86
// Rows of at most 16 non-negative probabilities (the running sums never decrease): the first c
// with x < cdf[c] is the number of c with cdf[c] <= x, counted with four vector compares and no
// branch to mispredict. Padding lanes hold +inf (never <= x). Any other row: the scalar search.
FPRL_AVX2 void sample(const float* probs, size_t n, size_t C, const double* u, size_t k, int32_t* out) {
  alignas(32) double cdf[256];
  for (size_t i = 0; i < n; i++) {
    const float* row = probs + i * C;
    double acc = 0;
    bool monotone = true;
    for (size_t c = 0; c < C; c++) {
      monotone = monotone && row[c] >= 0.f;
      cdf[c] = acc += static_cast<double>(row[c]);
    }
    if (C <= 16 && monotone) {
      for (size_t c = C; c < 16; c++) cdf[c] = INFINITY;
      const __m256d c0 = _mm256_load_pd(cdf), c1 = _mm256_load_pd(cdf + 4);
      const __m256d c2 = _mm256_load_pd(cdf + 8), c3 = _mm256_load_pd(cdf + 12);
      for (size_t j = 0; j < k; j++) {
        const double x = u[j * n + i];
        const __m256d xv = _mm256_set1_pd(x);
        const int below = __builtin_popcount(_mm256_movemask_pd(_mm256_cmp_pd(c0, xv, _CMP_LE_OQ))) +
                          __builtin_popcount(_mm256_movemask_pd(_mm256_cmp_pd(c1, xv, _CMP_LE_OQ))) +
                          __builtin_popcount(_mm256_movemask_pd(_mm256_cmp_pd(c2, xv, _CMP_LE_OQ))) +
                          __builtin_popcount(_mm256_movemask_pd(_mm256_cmp_pd(c3, xv, _CMP_LE_OQ)));
        // NaN draws compare false everywhere (0 below), as in the scalar search.
        if (static_cast<size_t>(below) < C && x == x)
          out[j * n + i] = below;
        else
          sampleScalar(row, cdf, C, x, out + j * n + i);
      }
    } else {
      for (size_t j = 0; j < k; j++) sampleScalar(row, cdf, C, u[j * n + i], out + j * n + i);
    }
  }
}
#else
void sample(const float* probs, size_t n, size_t C, const double* u, size_t k, int32_t* out) {
  double cdf[256];
  for (size_t i = 0; i < n; i++) {
    const float* row = probs + i * C;
    double acc = 0;
    for (size_t c = 0; c < C; c++) cdf[c] = acc += static_cast<double>(row[c]);
    for (size_t j = 0; j < k; j++) sampleScalar(row, cdf, C, u[j * n + i], out + j * n + i);
  }
}
#endif

// sfc32 with its state in locals (BulkRandom.fillInt32's loop): load, draw words, store back.
struct Sfc32 {
  uint32_t a, b, c, d;
  explicit Sfc32(const uint32_t* st) : a(st[0]), b(st[1]), c(st[2]), d(st[3]) {}
  uint32_t next() {
    const uint32_t t = a + b + d;
    d = d + 1;
    a = b ^ (b >> 9);
    b = c + (c << 3);
    c = (c << 21) | (c >> 11);
    c = c + t;
    return t;
  }
  void store(uint32_t* st) const { st[0] = a, st[1] = b, st[2] = c, st[3] = d; }
};

// A word keeps its entry when, sign-flipped, it is at least `threshold` (unsigned compare in int32).
inline bool keeps(uint32_t word, int32_t threshold) { return static_cast<int32_t>(word ^ 0x80000000u) >= threshold; }

// BulkRandom.dropoutMask (agents/vit/random.ts): sfc32 words; entry i is `keep` when its word
// keeps it, else 0.
void dropoutMask(uint32_t* st, float* out, size_t n, int32_t threshold, float keep) {
  Sfc32 g(st);
  for (size_t i = 0; i < n; i++) out[i] = keeps(g.next(), threshold) ? keep : 0.f;
  g.store(st);
}

// Dropout in one pass (agents/vit/ops.ts, the fused route): the words and compare of dropoutMask,
// but y[i] = x[i] * (kept ? keep : 0) is written at once and the decision kept as one byte, instead
// of a float32 mask that is allocated, filled, copied into the wasm heap and read twice. The
// product is the one tf.mul(x, mask) computes, so y is the same bits.
void dropoutApply(uint32_t* st, const float* x, float* y, uint8_t* mask, size_t n, int32_t threshold, float keep) {
  Sfc32 g(st);
  for (size_t i = 0; i < n; i++) {
    const bool kept = keeps(g.next(), threshold);
    mask[i] = kept;
    y[i] = x[i] * (kept ? keep : 0.f);
  }
  g.store(st);
}

// Its gradient: dx[i] = dy[i] * (mask[i] ? keep : 0), tf.mul(dy, mask)'s bits.
void dropoutGrad(const float* dy, const uint8_t* mask, float* dx, size_t n, float keep) {
  for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (mask[i] ? keep : 0.f);
}

// policyWeights: W[i*C + a_ki] += A_ki * inv for every sample k and valid pixel i.
bool weights(const int32_t* actions, const float* values, bool perPixel, size_t K, size_t B, size_t P, size_t C,
             const uint8_t* mask, double inv, float* W) {
  const size_t n = B * P;
  for (size_t k = 0; k < K; k++) {
    for (size_t i = 0; i < n; i++) {
      if (mask && mask[i] == 0) continue;
      const double a = perPixel ? values[k * n + i] : values[k * B + i / P];
      const int32_t cls = actions[k * n + i];
      if (cls < 0 || static_cast<size_t>(cls) >= C) return false;
      float* w = W + i * C + cls;
      *w = static_cast<float>(static_cast<double>(*w) + a * inv);
    }
  }
  return true;
}

// The rloo baseline: base[k*n + i] = (sum over k' of signal[k'*n + i] - signal[k*n + i]) / (K - 1).
void rloo(const float* signal, size_t K, size_t n, float* base) {
  const double km1 = static_cast<double>(K - 1);
  for (size_t i = 0; i < n; i++) {
    double sum = 0;
    for (size_t k = 0; k < K; k++) sum += signal[k * n + i];
    for (size_t k = 0; k < K; k++) base[k * n + i] = static_cast<float>((sum - signal[k * n + i]) / km1);
  }
}

// adv = signal - base over valid entries (0 elsewhere), k-major, and the sums the statistics need:
// stats = [count, sum signal, sum signal^2, sum adv, sum adv^2, sum base].
void advantages(const float* signal, const float* base, size_t K, size_t n, const uint8_t* mask, float* adv,
                double* stats) {
  double count = 0, sS = 0, sS2 = 0, sA = 0, sA2 = 0, sB = 0;
  for (size_t k = 0; k < K; k++) {
    const size_t off = k * n;
    for (size_t j = 0; j < n; j++) {
      const size_t i = off + j;
      if (mask && mask[j] != 1) {
        adv[i] = 0.f;
        continue;
      }
      const double x = signal[i];
      const double b = base[i];
      adv[i] = static_cast<float>(x - b);
      const double a = adv[i];
      count++;
      sS += x;
      sS2 += x * x;
      sA += a;
      sA2 += a * a;
      sB += b;
    }
  }
  stats[0] = count, stats[1] = sS, stats[2] = sS2, stats[3] = sA, stats[4] = sA2, stats[5] = sB;
}

void normalize(float* adv, size_t K, size_t n, const uint8_t* mask, double mean, double scale) {
  for (size_t k = 0; k < K; k++) {
    float* a = adv + k * n;
    for (size_t j = 0; j < n; j++)
      if (!mask || mask[j] == 1) a[j] = static_cast<float>((static_cast<double>(a[j]) - mean) * scale);
  }
}

// src/metrics/count.ts's countConfusionJs: M[t*C + p] += 1 per pixel whose target is not `ignore`.
// Returns the index of the first pixel with a label outside [0, C), or -1 (M then holds partial
// counts, which the caller discards). Four interleaved integer tables, so runs of equal labels do
// not wait on one counter; counts are exact either way.
double confusion(const int32_t* pred, const int32_t* target, size_t n, size_t C, double ignore, double* M) {
  constexpr size_t kTables = 4;
  uint32_t local[kTables][256];
  const size_t cells = C * C;
  if (cells > 256) {  // more than 16 classes: one table of doubles
    for (size_t i = 0; i < n; i++) {
      const int32_t t = target[i];
      if (static_cast<double>(t) == ignore) continue;
      const int32_t p = pred[i];
      if (static_cast<uint32_t>(p) >= C || static_cast<uint32_t>(t) >= C) return static_cast<double>(i);
      M[static_cast<size_t>(t) * C + static_cast<size_t>(p)] += 1;
    }
    return -1;
  }
  std::memset(local, 0, sizeof(local));
  double bad = -1;
  for (size_t i = 0; i < n; i++) {
    const int32_t t = target[i];
    if (static_cast<double>(t) == ignore) continue;
    const int32_t p = pred[i];
    if (static_cast<uint32_t>(p) >= C || static_cast<uint32_t>(t) >= C) {
      bad = static_cast<double>(i);
      break;
    }
    local[i & (kTables - 1)][static_cast<size_t>(t) * C + static_cast<size_t>(p)]++;
  }
  for (size_t c = 0; c < cells; c++)
    M[c] += static_cast<double>(local[0][c]) + local[1][c] + local[2][c] + local[3][c];
  return bad;
}

// differenceCredit's pixel loop: out[i] = table[a*C + b] (rounded to float32) for wrong, counted
// pixels; correct and ignored pixels keep 0. Returns the first pixel whose pair is not in the
// table (NaN), for the JS to score and resume from, or -1.
double pairCredit(const int32_t* pred, const int32_t* target, size_t n, size_t C, double ignore,
                  const double* table, float* out, size_t from) {
  for (size_t i = from; i < n; i++) {
    const int32_t b = target[i];
    const int32_t a = pred[i];
    if (static_cast<double>(b) == ignore || a == b) continue;
    if (static_cast<uint32_t>(a) >= C || static_cast<uint32_t>(b) >= C) return static_cast<double>(i);
    const double d = table[static_cast<size_t>(a) * C + static_cast<size_t>(b)];
    if (d != d) return static_cast<double>(i);
    out[i] = static_cast<float>(d);
  }
  return -1;
}

// ---- N-API glue --------------------------------------------------------------------------------

// sample(probs: Float32Array [n*C], u: Float64Array [k*n], C, k, out: Int32Array [k*n])
napi_value Sample(napi_env env, napi_callback_info info) {
  napi_value a[5];
  if (!args(env, info, a)) return fail(env, "sample: expected 5 arguments");
  float* probs;
  double* u;
  int32_t* out;
  size_t pLen, uLen, oLen, C, k;
  if (!typedArray(env, a[0], &probs, &pLen) || !typedArray(env, a[1], &u, &uLen) || !count(env, a[2], &C) ||
      !count(env, a[3], &k) || !typedArray(env, a[4], &out, &oLen))
    return fail(env, "sample: expected (Float32Array, Float64Array, C, k, Int32Array)");
  if (C == 0 || pLen % C != 0) return fail(env, "sample: probs is not a whole number of rows of C");
  const size_t n = pLen / C;
  if (uLen < k * n || oLen < k * n) return fail(env, "sample: u or out is shorter than k*n");
  if (C > 256) return fail(env, "sample: more than 256 classes");
  sample(probs, n, C, u, k, out);
  return nullptr;
}

// policyWeights(actions, values, perPixel, K, B, P, C, mask | null, inv, out: Float32Array [B*P*C])
napi_value Weights(napi_env env, napi_callback_info info) {
  napi_value a[10];
  if (!args(env, info, a)) return fail(env, "policyWeights: expected 10 arguments");
  int32_t* actions;
  float *values, *out;
  uint8_t* mask;
  size_t aLen, vLen, oLen, mLen, K, B, P, C;
  bool perPixel = false;
  double inv = 0;
  if (!typedArray(env, a[0], &actions, &aLen) || !typedArray(env, a[1], &values, &vLen) ||
      napi_get_value_bool(env, a[2], &perPixel) != napi_ok || !count(env, a[3], &K) || !count(env, a[4], &B) ||
      !count(env, a[5], &P) || !count(env, a[6], &C) || !optionalTypedArray(env, a[7], &mask, &mLen) ||
      napi_get_value_double(env, a[8], &inv) != napi_ok || !typedArray(env, a[9], &out, &oLen))
    return fail(env, "policyWeights: bad argument types");
  const size_t n = B * P;
  if (aLen < K * n || vLen < (perPixel ? K * n : K * B) || oLen < n * C || (mask && mLen < n))
    return fail(env, "policyWeights: an array is shorter than the shapes say");
  if (!weights(actions, values, perPixel, K, B, P, C, mask, inv, out))
    return fail(env, "policyWeights: an action is not a class in [0, C)");
  return nullptr;
}

// dropoutMask(state: Int32Array [4] (sfc32 a, b, c, counter), out: Float32Array, threshold, keep)
napi_value Dropout(napi_env env, napi_callback_info info) {
  napi_value a[4];
  if (!args(env, info, a)) return fail(env, "dropoutMask: expected 4 arguments");
  int32_t* st;
  float* out;
  size_t sLen, n;
  int32_t threshold;
  double keep;
  if (!typedArray(env, a[0], &st, &sLen) || sLen < 4 || !typedArray(env, a[1], &out, &n) ||
      napi_get_value_int32(env, a[2], &threshold) != napi_ok || napi_get_value_double(env, a[3], &keep) != napi_ok)
    return fail(env, "dropoutMask: expected (Int32Array [4], Float32Array, threshold, keep)");
  dropoutMask(reinterpret_cast<uint32_t*>(st), out, n, threshold, static_cast<float>(keep));
  return nullptr;
}

// dropoutApply(state: Int32Array [4], x: Float32Array, y: Float32Array, mask: Uint8Array, threshold, keep):
// y and mask at least as long as x.
napi_value DropoutApply(napi_env env, napi_callback_info info) {
  napi_value a[6];
  if (!args(env, info, a)) return fail(env, "dropoutApply: expected 6 arguments");
  int32_t* st;
  float *x, *y;
  uint8_t* mask;
  size_t sLen, n, yLen, mLen;
  int32_t threshold;
  double keep;
  if (!typedArray(env, a[0], &st, &sLen) || sLen < 4 || !typedArray(env, a[1], &x, &n) ||
      !typedArray(env, a[2], &y, &yLen) || !typedArray(env, a[3], &mask, &mLen) ||
      napi_get_value_int32(env, a[4], &threshold) != napi_ok || napi_get_value_double(env, a[5], &keep) != napi_ok)
    return fail(env, "dropoutApply: expected (Int32Array [4], Float32Array x, Float32Array y, Uint8Array mask, threshold, keep)");
  if (yLen < n || mLen < n) return fail(env, "dropoutApply: y and mask must be at least as long as x");
  dropoutApply(reinterpret_cast<uint32_t*>(st), x, y, mask, n, threshold, static_cast<float>(keep));
  return nullptr;
}

// dropoutGrad(dy: Float32Array, mask: Uint8Array, dx: Float32Array, keep): mask and dx at least as long as dy.
napi_value DropoutGradient(napi_env env, napi_callback_info info) {
  napi_value a[4];
  if (!args(env, info, a)) return fail(env, "dropoutGrad: expected 4 arguments");
  float *dy, *dx;
  uint8_t* mask;
  size_t n, mLen, dxLen;
  double keep;
  if (!typedArray(env, a[0], &dy, &n) || !typedArray(env, a[1], &mask, &mLen) || !typedArray(env, a[2], &dx, &dxLen) ||
      napi_get_value_double(env, a[3], &keep) != napi_ok)
    return fail(env, "dropoutGrad: expected (Float32Array dy, Uint8Array mask, Float32Array dx, keep)");
  if (mLen < n || dxLen < n) return fail(env, "dropoutGrad: mask and dx must be at least as long as dy");
  dropoutGrad(dy, mask, dx, n, static_cast<float>(keep));
  return nullptr;
}

// rlooBaseline(signal: Float32Array [K*n], K, n, base: Float32Array [K*n])
napi_value Rloo(napi_env env, napi_callback_info info) {
  napi_value a[4];
  if (!args(env, info, a)) return fail(env, "rlooBaseline: expected 4 arguments");
  float *signal, *base;
  size_t sLen, bLen, K, n;
  if (!typedArray(env, a[0], &signal, &sLen) || !count(env, a[1], &K) || !count(env, a[2], &n) ||
      !typedArray(env, a[3], &base, &bLen))
    return fail(env, "rlooBaseline: bad argument types");
  if (K < 2 || sLen < K * n || bLen < K * n) return fail(env, "rlooBaseline: K < 2 or arrays shorter than K*n");
  rloo(signal, K, n, base);
  return nullptr;
}

// advantageStats(signal, base, K, n, mask | null, adv, stats: Float64Array [6])
napi_value Advantages(napi_env env, napi_callback_info info) {
  napi_value a[7];
  if (!args(env, info, a)) return fail(env, "advantageStats: expected 7 arguments");
  float *signal, *base, *adv;
  uint8_t* mask;
  double* stats;
  size_t sLen, bLen, aLen, mLen, stLen, K, n;
  if (!typedArray(env, a[0], &signal, &sLen) || !typedArray(env, a[1], &base, &bLen) || !count(env, a[2], &K) ||
      !count(env, a[3], &n) || !optionalTypedArray(env, a[4], &mask, &mLen) || !typedArray(env, a[5], &adv, &aLen) ||
      !typedArray(env, a[6], &stats, &stLen))
    return fail(env, "advantageStats: bad argument types");
  if (sLen < K * n || bLen < K * n || aLen < K * n || (mask && mLen < n) || stLen < 6)
    return fail(env, "advantageStats: an array is shorter than the shapes say");
  advantages(signal, base, K, n, mask, adv, stats);
  return nullptr;
}

// normalizeAdvantages(adv, K, n, mask | null, mean, scale)
napi_value Normalize(napi_env env, napi_callback_info info) {
  napi_value a[6];
  if (!args(env, info, a)) return fail(env, "normalizeAdvantages: expected 6 arguments");
  float* adv;
  uint8_t* mask;
  size_t aLen, mLen, K, n;
  double mean, scale;
  if (!typedArray(env, a[0], &adv, &aLen) || !count(env, a[1], &K) || !count(env, a[2], &n) ||
      !optionalTypedArray(env, a[3], &mask, &mLen) || napi_get_value_double(env, a[4], &mean) != napi_ok ||
      napi_get_value_double(env, a[5], &scale) != napi_ok)
    return fail(env, "normalizeAdvantages: bad argument types");
  if (aLen < K * n || (mask && mLen < n)) return fail(env, "normalizeAdvantages: an array is shorter than K*n");
  normalize(adv, K, n, mask, mean, scale);
  return nullptr;
}

// confusion(pred: Int32Array, target: Int32Array, C, ignore, out: Float64Array [C*C]) -> first bad pixel or -1
napi_value Confusion(napi_env env, napi_callback_info info) {
  napi_value a[5];
  if (!args(env, info, a)) return fail(env, "confusion: expected 5 arguments");
  int32_t *pred, *target;
  double* M;
  size_t pLen, tLen, mLen, C;
  double ignore;
  if (!typedArray(env, a[0], &pred, &pLen) || !typedArray(env, a[1], &target, &tLen) || !count(env, a[2], &C) ||
      napi_get_value_double(env, a[3], &ignore) != napi_ok || !typedArray(env, a[4], &M, &mLen))
    return fail(env, "confusion: bad argument types");
  if (tLen < pLen || mLen < C * C) return fail(env, "confusion: target shorter than pred, or out smaller than C*C");
  napi_value r;
  napi_create_double(env, confusion(pred, target, pLen, C, ignore, M), &r);
  return r;
}

// pairCredit(pred, target, C, ignore, table: Float64Array [C*C], out: Float32Array, from) -> -1 or a pixel
napi_value PairCredit(napi_env env, napi_callback_info info) {
  napi_value a[7];
  if (!args(env, info, a)) return fail(env, "pairCredit: expected 7 arguments");
  int32_t *pred, *target;
  double* table;
  float* out;
  size_t pLen, tLen, tabLen, oLen, C, from;
  double ignore;
  if (!typedArray(env, a[0], &pred, &pLen) || !typedArray(env, a[1], &target, &tLen) || !count(env, a[2], &C) ||
      napi_get_value_double(env, a[3], &ignore) != napi_ok || !typedArray(env, a[4], &table, &tabLen) ||
      !typedArray(env, a[5], &out, &oLen) || !count(env, a[6], &from))
    return fail(env, "pairCredit: bad argument types");
  if (tLen < pLen || oLen < pLen || tabLen < C * C) return fail(env, "pairCredit: an array is shorter than pred or C*C");
  napi_value r;
  napi_create_double(env, pairCredit(pred, target, pLen, C, ignore, table, out, from), &r);
  return r;
}

}  // namespace

void registerBandit(napi_env env, napi_value exports) {
  setFunction(env, exports, "pairCredit", PairCredit);
  setFunction(env, exports, "sample", Sample);
  setFunction(env, exports, "policyWeights", Weights);
  setFunction(env, exports, "dropoutMask", Dropout);
  setFunction(env, exports, "dropoutApply", DropoutApply);
  setFunction(env, exports, "dropoutGrad", DropoutGradient);
  setFunction(env, exports, "rlooBaseline", Rloo);
  setFunction(env, exports, "advantageStats", Advantages);
  setFunction(env, exports, "normalizeAdvantages", Normalize);
  setFunction(env, exports, "confusion", Confusion);
}

}  // namespace fprl

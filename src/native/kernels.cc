// Kernels for the wasm backend (src/wasm/native-matmul.ts, exp-kernel.ts, reduce-kernel.ts): a
// single-threaded float32 GEMM with AVX2 + FMA, and the two element-wise kernels that weigh most
// after it in a Face Transformer step: exp (the 11-class log-softmax over every pixel) and sums
// over an axis (bias gradients, the softmax's normaliser); also one fused Adam step
// (src/wasm/adam-kernel.ts) and in-place float32 adds (the data-parallel gradient sum,
// src/parallel/heap.ts). Why: the wasm backend runs XNNPACK on 128-bit wasm SIMD (about 30 GFLOP/s
// on one core here), and matMuls are three quarters of a Face Transformer step; the same core does
// 60-90 GFLOP/s with 256-bit FMA. The kernels read and write the wasm heap in place (the JS side
// passes Float32Array views of the operands), so nothing is copied.
//
// Algorithm: the BLIS loop nest. C[M,N] = op(A)[M,K] op(B)[K,N] with op() given by strides, so
// transposed operands cost nothing extra: they are read in another order while packing.
//   for jc in N step NC: for pc in K step KC: pack B[pc:+KC, jc:+NC] into NR-wide panels
//     for ic in M step MC: pack A[ic:+MC, pc:+KC] into MR-tall panels
//       for each MR x NR tile: the micro-kernel accumulates KC rank-1 updates in 12 registers.
// Every element of C is one float32 FMA chain over k in increasing order (a KC block ends by
// storing the exact float32 accumulator, the next loads it back): the result depends on the shapes
// only, never on timing or on the blocking, so runs are reproducible bit for bit and the block
// sizes may change freely (test/native/native.test.ts checks the chain against an exact fma).
// In a training step the operands are cold (written by the previous ops, evicted since): packing
// reads memory rows contiguously whatever the transpose, and the macro-kernel prefetches the next
// tile's rows of C while a tile computes (measured 10-17% less GEMM time in a ti16-256 step).
//
// The micro-kernel is compiled for AVX2 + FMA through a target attribute and used only when the
// CPU reports both (checked once at load); elsewhere `supported` is false and the JS side keeps
// XNNPACK. Built by `npm install` through node-gyp (binding.gyp); optional: if it cannot be built,
// nothing changes but speed.
#include "napi-util.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "simd.h"
#include "gemm.h"

namespace fprl {
namespace {

constexpr int MR = 6;     // rows of a micro-tile
constexpr int NR = 16;    // columns of a micro-tile (two 8-float registers)
constexpr int KC = 256;   // depth of a packed block: an NR x KC panel of B is 16 KiB (L1)
constexpr int MC = 120;   // rows of a packed block of A: MC x KC is 120 KiB (L2)
constexpr int NC = 3072;  // columns of a packed block of B: KC x NC is 3 MiB (L3)
// Up to this many columns A is not packed (see microKernelDirectA).
constexpr int DIRECT_A_MAX_N = 64;

// Packing buffers, one pair per thread (each worker thread of the data-parallel pool has its own).
struct Buffer {
  float* data = nullptr;
  size_t capacity = 0;
  float* reserve(size_t n) {
    if (n > capacity) {
      std::free(data);
      size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
      data = static_cast<float*>(std::aligned_alloc(64, bytes));
      capacity = data ? n : 0;
    }
    return data;
  }
  ~Buffer() { std::free(data); }
};
thread_local Buffer packedA;
thread_local Buffer packedB;

// A(i, k) = A[i * rs + k * cs]: MR-tall panels, each k-major with MR values (zero-padded rows).
// A transposed in memory (rs == 1: row k of memory holds A(., k)) is read a memory row at a time and
// scattered into the panels, so the reads are contiguous; a panel-at-a-time walk would read MR
// floats from each of kc rows lda apart, which the prefetchers follow badly on cold operands.
void packA(int mc, int kc, const float* A, long rs, long cs, float* out) {
  if (rs == 1 && mc >= MR) {
    const int full = mc / MR * MR;
    for (int k = 0; k < kc; k++) {
      const float* row = A + k * cs;
      float* o = out + k * MR;
      for (int i0 = 0; i0 < full; i0 += MR, o += static_cast<size_t>(kc) * MR)
        for (int r = 0; r < MR; r++) o[r] = row[i0 + r];
    }
    if (full < mc) packA(mc - full, kc, A + full, rs, cs, out + static_cast<size_t>(full) * kc);
    return;
  }
  for (int i0 = 0; i0 < mc; i0 += MR) {
    const int mr = mc - i0 < MR ? mc - i0 : MR;
    const float* a = A + i0 * rs;
    if (mr == MR && cs == 1) {
      for (int k = 0; k < kc; k++, out += MR)
        for (int r = 0; r < MR; r++) out[r] = a[r * rs + k];
    } else {
      for (int k = 0; k < kc; k++, out += MR) {
        for (int r = 0; r < mr; r++) out[r] = a[r * rs + k * cs];
        for (int r = mr; r < MR; r++) out[r] = 0.f;
      }
    }
  }
}

// B(k, j) = B[k * rs + j * cs]: NR-wide panels, each k-major with NR values (zero-padded columns).
// A row-major B (cs == 1) is read a memory row at a time and scattered into the panels (contiguous
// reads, as in packA); the last, narrower panel is padded in the same pass.
void packB(int kc, int nc, const float* B, long rs, long cs, float* out) {
  if (cs == 1) {
    const int full = nc / NR * NR;
    for (int k = 0; k < kc; k++) {
      const float* row = B + k * rs;
      float* o = out + k * NR;
      int j0 = 0;
      for (; j0 < full; j0 += NR, o += static_cast<size_t>(kc) * NR) std::memcpy(o, row + j0, NR * sizeof(float));
      if (j0 < nc) {
        for (int c = 0; c < nc - j0; c++) o[c] = row[j0 + c];
        for (int c = nc - j0; c < NR; c++) o[c] = 0.f;
      }
    }
    return;
  }
  for (int j0 = 0; j0 < nc; j0 += NR) {
    const int nr = nc - j0 < NR ? nc - j0 : NR;
    const float* b = B + j0 * cs;
    if (nr == NR && rs == 1) {
      // Transposed B ([N,K] in memory): read each column's k-run contiguously.
      for (int c = 0; c < NR; c++) {
        const float* col = b + c * cs;
        for (int k = 0; k < kc; k++) out[k * NR + c] = col[k];
      }
      out += kc * NR;
    } else {
      for (int k = 0; k < kc; k++, out += NR) {
        for (int c = 0; c < nr; c++) out[c] = b[k * rs + c * cs];
        for (int c = nr; c < NR; c++) out[c] = 0.f;
      }
    }
  }
}

#if FPRL_X86
// Where the micro-kernel reads A(r, k): a packed panel (k-major, MR values per k) ...
struct PackedA {
  const float* p;
  const float* at(int k, int r) const { return p + static_cast<long>(k) * MR + r; }
};
// ... or A where it lies, A(r, k) = p[r * rs + k * cs]: for products with few columns (the
// attention products with N = head dim), packing A costs about as much as multiplying it, since
// each packed panel serves only N / NR micro-tiles.
struct InPlaceA {
  const float* p;
  long rs, cs;
  const float* at(int k, int r) const { return p + r * rs + k * cs; }
};

// C[MR,NR] (row stride ldc) = (load ? C : 0) + sum over k of A(r, k) * b[k*NR + c]. Both ways of
// reading A run the same FMAs in the same order, so they give the same bits.
template <class A>
FPRL_AVX2 inline void microKernelOf(int kc, A a, const float* b, float* c, long ldc, bool load) {
  __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
  if (load) {
    c00 = _mm256_loadu_ps(c + 0 * ldc), c01 = _mm256_loadu_ps(c + 0 * ldc + 8);
    c10 = _mm256_loadu_ps(c + 1 * ldc), c11 = _mm256_loadu_ps(c + 1 * ldc + 8);
    c20 = _mm256_loadu_ps(c + 2 * ldc), c21 = _mm256_loadu_ps(c + 2 * ldc + 8);
    c30 = _mm256_loadu_ps(c + 3 * ldc), c31 = _mm256_loadu_ps(c + 3 * ldc + 8);
    c40 = _mm256_loadu_ps(c + 4 * ldc), c41 = _mm256_loadu_ps(c + 4 * ldc + 8);
    c50 = _mm256_loadu_ps(c + 5 * ldc), c51 = _mm256_loadu_ps(c + 5 * ldc + 8);
  } else {
    c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = _mm256_setzero_ps();
  }
  for (int k = 0; k < kc; k++, b += NR) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    __m256 x = _mm256_broadcast_ss(a.at(k, 0));
    c00 = _mm256_fmadd_ps(x, b0, c00), c01 = _mm256_fmadd_ps(x, b1, c01);
    x = _mm256_broadcast_ss(a.at(k, 1));
    c10 = _mm256_fmadd_ps(x, b0, c10), c11 = _mm256_fmadd_ps(x, b1, c11);
    x = _mm256_broadcast_ss(a.at(k, 2));
    c20 = _mm256_fmadd_ps(x, b0, c20), c21 = _mm256_fmadd_ps(x, b1, c21);
    x = _mm256_broadcast_ss(a.at(k, 3));
    c30 = _mm256_fmadd_ps(x, b0, c30), c31 = _mm256_fmadd_ps(x, b1, c31);
    x = _mm256_broadcast_ss(a.at(k, 4));
    c40 = _mm256_fmadd_ps(x, b0, c40), c41 = _mm256_fmadd_ps(x, b1, c41);
    x = _mm256_broadcast_ss(a.at(k, 5));
    c50 = _mm256_fmadd_ps(x, b0, c50), c51 = _mm256_fmadd_ps(x, b1, c51);
  }
  _mm256_storeu_ps(c + 0 * ldc, c00), _mm256_storeu_ps(c + 0 * ldc + 8, c01);
  _mm256_storeu_ps(c + 1 * ldc, c10), _mm256_storeu_ps(c + 1 * ldc + 8, c11);
  _mm256_storeu_ps(c + 2 * ldc, c20), _mm256_storeu_ps(c + 2 * ldc + 8, c21);
  _mm256_storeu_ps(c + 3 * ldc, c30), _mm256_storeu_ps(c + 3 * ldc + 8, c31);
  _mm256_storeu_ps(c + 4 * ldc, c40), _mm256_storeu_ps(c + 4 * ldc + 8, c41);
  _mm256_storeu_ps(c + 5 * ldc, c50), _mm256_storeu_ps(c + 5 * ldc + 8, c51);
}

FPRL_AVX2 void microKernel(int kc, const float* a, const float* b, float* c, long ldc, bool load) {
  microKernelOf(kc, PackedA{a}, b, c, ldc, load);
}

FPRL_AVX2 void microKernelDirectA(int kc, const float* a, long rs, long cs, const float* b, float* c, long ldc,
                                  bool load) {
  microKernelOf(kc, InPlaceA{a, rs, cs}, b, c, ldc, load);
}

}  // namespace
bool cpuSupported() {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return true;  // MSVC: x64 Windows builds target AVX2-capable machines (see binding.gyp)
#endif
}
namespace {
#else
void microKernel(int, const float*, const float*, float*, long, bool) {}
void microKernelDirectA(int, const float*, long, long, const float*, float*, long, bool) {}
}  // namespace
bool cpuSupported() { return false; }
namespace {
#endif

// Activation codes: the same numbers as tfjs-backend-wasm's FusableActivation.
enum Activation { kLinear = 0, kRelu = 1, kRelu6 = 2, kLeakyRelu = 4, kSigmoid = 5, kElu = 6 };

// What a fused matMul adds to its product: bias[j] on every row, then the activation.
struct Epilogue {
  const float* bias = nullptr;  // N values, or null
  int activation = kLinear;
  float alpha = 0.f;
  bool any() const { return bias != nullptr || activation != kLinear; }
};

// The epilogue on rows [0, M) and columns [0, N) of c (row stride ldc); bias points at column 0's.
// Each element gets the same float32 ops wherever it is called from, so applying it tile by tile
// (below) gives the bits of one pass over the whole product.
void epilogue(float* c, int M, int N, long ldc, const float* bias, int activation, float alpha) {
  for (int i = 0; i < M; i++) {
    float* row = c + static_cast<size_t>(i) * ldc;
    if (bias)
      for (int j = 0; j < N; j++) row[j] += bias[j];
    switch (activation) {
      case kRelu:
        for (int j = 0; j < N; j++) row[j] = row[j] > 0.f ? row[j] : 0.f;
        break;
      case kRelu6:
        for (int j = 0; j < N; j++) row[j] = row[j] < 0.f ? 0.f : (row[j] > 6.f ? 6.f : row[j]);
        break;
      case kLeakyRelu:
        for (int j = 0; j < N; j++) row[j] = row[j] < 0.f ? alpha * row[j] : row[j];
        break;
      case kSigmoid:
        for (int j = 0; j < N; j++) row[j] = 1.f / (1.f + std::exp(-row[j]));
        break;
      case kElu:
        for (int j = 0; j < N; j++) row[j] = row[j] < 0.f ? std::expm1(row[j]) : row[j];
        break;
      default:
        break;
    }
  }
}

// C[M,N] (row stride ldc) = epi(op(A) op(B)), op given by the strides. The epilogue runs on each
// tile as its last K block is stored, while the tile is still in L1: a separate pass over C read
// and wrote the whole product once more (6 MiB for a ti16-256 batch's first MLP layer).
// False when out of memory.
bool gemm(int M, int N, int K, const float* A, long rsA, long csA, const float* B, long rsB, long csB,
          float* C, long ldc, const Epilogue& epi) {
  if (K == 0) {
    for (int i = 0; i < M; i++) std::memset(C + i * ldc, 0, N * sizeof(float));
    if (epi.any()) epilogue(C, M, N, ldc, epi.bias, epi.activation, epi.alpha);
    return true;
  }
  alignas(32) float tile[MR * NR];
  for (int jc = 0; jc < N; jc += NC) {
    const int nc = N - jc < NC ? N - jc : NC;
    const int ncPadded = (nc + NR - 1) / NR * NR;
    for (int pc = 0; pc < K; pc += KC) {
      const int kc = K - pc < KC ? K - pc : KC;
      float* bp = packedB.reserve(static_cast<size_t>(ncPadded) * kc);
      if (!bp) return false;
      packB(kc, nc, B + pc * rsB + jc * csB, rsB, csB, bp);
      const bool load = pc > 0;
      const bool last = pc + kc == K;
      // Few column panels: full row panels of A are read in place, only the last, short one is packed.
      const bool direct = nc <= DIRECT_A_MAX_N;
      for (int ic = 0; ic < M; ic += MC) {
        const int mc = M - ic < MC ? M - ic : MC;
        const int mcPadded = (mc + MR - 1) / MR * MR;
        const int packedFrom = direct ? mc / MR * MR : 0;
        const float* aBlock = A + ic * rsA + pc * csA;
        float* ap = nullptr;
        if (packedFrom < mc) {
          ap = packedA.reserve(static_cast<size_t>(mcPadded - packedFrom) * kc);
          if (!ap) return false;
          packA(mc - packedFrom, kc, aBlock + packedFrom * rsA, rsA, csA, ap);
        }
        for (int jr = 0; jr < nc; jr += NR) {
          const int nr = nc - jr < NR ? nc - jr : NR;
          const float* b = bp + static_cast<size_t>(jr) * kc;
          for (int ir = 0; ir < mc; ir += MR) {
            const int mr = mc - ir < MR ? mc - ir : MR;
            float* c = C + (ic + ir) * ldc + jc + jr;
            // Ask for the next tile's rows of C while this one computes (kc FMA rounds hide the
            // latency of a cold C, which the hardware prefetchers cannot guess: 6 rows ldc apart).
            if (ir + MR < mc) {
              const char* next = reinterpret_cast<const char*>(c + MR * ldc);
              for (int r = 0; r < MR; r++) {
                __builtin_prefetch(next + r * ldc * sizeof(float), 1, 3);
                __builtin_prefetch(next + r * ldc * sizeof(float) + (NR * sizeof(float) - 1), 1, 3);
              }
            }
            // Rows before packedFrom are full panels of A read in place; the others are packed.
            const auto tileKernel = [&](float* out, long ld) {
              if (ir < packedFrom)
                microKernelDirectA(kc, aBlock + ir * rsA, rsA, csA, b, out, ld, load);
              else
                microKernel(kc, ap + static_cast<size_t>(ir - packedFrom) * kc, b, out, ld, load);
            };
            if (mr == MR && nr == NR) {
              tileKernel(c, ldc);
            } else {
              if (load)
                for (int r = 0; r < mr; r++) std::memcpy(tile + r * NR, c + r * ldc, nr * sizeof(float));
              tileKernel(tile, NR);
              for (int r = 0; r < mr; r++) std::memcpy(c + r * ldc, tile + r * NR, nr * sizeof(float));
            }
            if (last && epi.any())
              epilogue(c, mr, nr, ldc, epi.bias ? epi.bias + jc + jr : nullptr, epi.activation, epi.alpha);
          }
        }
      }
    }
  }
  return true;
}

// ---- exp and sums ------------------------------------------------------------------------------

#if FPRL_X86
FPRL_AVX2 void expArray(const float* x, float* out, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, exp8(_mm256_loadu_ps(x + i)));
  if (i < n) {  // the tail through the same arithmetic, so a value's exp never depends on its index
    alignas(32) float buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::memcpy(buf, x + i, (n - i) * sizeof(float));
    _mm256_store_ps(buf, exp8(_mm256_load_ps(buf)));
    std::memcpy(out + i, buf, (n - i) * sizeof(float));
  }
}

// out[p, j] = scale * sum over r of x[p, r, j], for x [pre, R, post]. Rows of 8+ columns add in
// float32 in r order, 8 columns at a time; a contiguous run (post = 1) adds in float64 in 4 lanes
// (r mod 4), then the lanes in order; narrow rows (1 < post < 8) add in float64 in r order.
FPRL_AVX2 void sumMiddle(const float* x, float* out, long pre, long R, long post, float scale) {
  for (long p = 0; p < pre; p++) {
    const float* xp = x + p * R * post;
    float* op = out + p * post;
    if (post == 1) {
      __m256d acc = _mm256_setzero_pd();
      long r = 0;
      for (; r + 4 <= R; r += 4) acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm_loadu_ps(xp + r)));
      alignas(32) double lanes[4];
      _mm256_store_pd(lanes, acc);
      double s = ((lanes[0] + lanes[1]) + lanes[2]) + lanes[3];
      for (; r < R; r++) s += xp[r];
      op[0] = static_cast<float>(s * scale);
    } else if (post < 8) {
      for (long j = 0; j < post; j++) {
        double s = 0;
        for (long r = 0; r < R; r++) s += xp[r * post + j];
        op[j] = static_cast<float>(s * scale);
      }
    } else {
      long j = 0;
      for (; j + 8 <= post; j += 8) {
        __m256 acc = _mm256_setzero_ps();
        for (long r = 0; r < R; r++) acc = _mm256_add_ps(acc, _mm256_loadu_ps(xp + r * post + j));
        _mm256_storeu_ps(op + j, _mm256_mul_ps(acc, _mm256_set1_ps(scale)));
      }
      for (; j < post; j++) {  // the last columns, in the same float32 order
        float s = 0;
        for (long r = 0; r < R; r++) s += xp[r * post + j];
        op[j] = s * scale;
      }
    }
  }
}
#endif

// One Adam step (src/train/optimizers.ts) per element, with the same sequence of float32 ops the
// tfjs kernels run there (each op rounded to float32; the scalars are float32 tensors there), so
// the result is bit for bit the op-by-op one. `l2`: weight decay added to the gradient (adam);
// `decoupled`: added to the step (adamw).
struct AdamScalars {
  float b1, oneMinusB1, b2, oneMinusB2, bc1, bc2, eps, lr, wd;
  bool l2, decoupled;
};

#if FPRL_X86
// The same float32 ops on 8 elements at a time (IEEE add, mul, div and sqrt are correctly rounded
// in every lane as in scalar code, and nothing is contracted into an FMA): the same bits, ~4x
// faster than the scalar loop, which was bound by its divisions and square roots (5.9 ns per
// weight: 155 ms per step for the seed preset's 26.5M).
FPRL_AVX2 size_t adamStep8(const float* w, const float* g, const float* m0, const float* v0, float* wOut, float* mOut,
                           float* vOut, size_t n, const AdamScalars& s) {
  const __m256 b1 = _mm256_set1_ps(s.b1), ob1 = _mm256_set1_ps(s.oneMinusB1), b2 = _mm256_set1_ps(s.b2),
               ob2 = _mm256_set1_ps(s.oneMinusB2), bc1 = _mm256_set1_ps(s.bc1), bc2 = _mm256_set1_ps(s.bc2),
               eps = _mm256_set1_ps(s.eps), lr = _mm256_set1_ps(s.lr), wd = _mm256_set1_ps(s.wd);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 wi = _mm256_loadu_ps(w + i);
    __m256 gi = _mm256_loadu_ps(g + i);
    if (s.l2) gi = _mm256_add_ps(gi, _mm256_mul_ps(wi, wd));
    const __m256 m = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(m0 + i), b1), _mm256_mul_ps(gi, ob1));
    const __m256 v =
        _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v0 + i), b2), _mm256_mul_ps(_mm256_mul_ps(gi, gi), ob2));
    __m256 step = _mm256_div_ps(_mm256_div_ps(m, bc1), _mm256_add_ps(_mm256_sqrt_ps(_mm256_div_ps(v, bc2)), eps));
    if (s.decoupled) step = _mm256_add_ps(step, _mm256_mul_ps(wi, wd));
    _mm256_storeu_ps(wOut + i, _mm256_sub_ps(wi, _mm256_mul_ps(step, lr)));
    _mm256_storeu_ps(mOut + i, m);
    _mm256_storeu_ps(vOut + i, v);
  }
  return i;
}
#endif

void adamStep(const float* w, const float* g, const float* m0, const float* v0, float* wOut, float* mOut,
              float* vOut, size_t n, const AdamScalars& s) {
  size_t i = 0;
#if FPRL_X86
  static const bool avx2 = cpuSupported();  // once: adam runs once per variable and step
  if (avx2) i = adamStep8(w, g, m0, v0, wOut, mOut, vOut, n, s);
#endif
  for (; i < n; i++) {
    float gi = g[i];
    if (s.l2) gi = gi + w[i] * s.wd;
    const float m = m0[i] * s.b1 + gi * s.oneMinusB1;
    const float v = v0[i] * s.b2 + (gi * gi) * s.oneMinusB2;
    float step = (m / s.bc1) / (std::sqrt(v / s.bc2) + s.eps);
    if (s.decoupled) step = step + w[i] * s.wd;
    wOut[i] = w[i] - step * s.lr;
    mOut[i] = m;
    vOut[i] = v;
  }
}

#if !FPRL_X86
void expArray(const float*, float*, size_t) {}
void sumMiddle(const float*, float*, long, long, long, float) {}
#endif

}  // namespace

bool gemmStrided(int M, int N, int K, const float* A, long rsA, long csA, const float* B, long rsB, long csB,
                 float* C, long ldc) {
  return gemm(M, N, K, A, rsA, csA, B, rsB, csB, C, ldc, Epilogue{});
}

namespace {

// ---- N-API glue -------------------------------------------------------------------------------

// gemm(a, b, c, M, N, K, transposeA, transposeB, aSlice, bSlice, bias, activation, alpha)
//   a: Float32Array of whole [M,K] slices ([K,M] when transposeA), b likewise ([K,N] / [N,K]);
//   c: Float32Array of aSlice.length [M,N] results; slice i reads a's slice aSlice[i] and b's
//   slice bSlice[i] (broadcast batch indices). bias: Float32Array(N) or null, added to every row,
//   then the activation. Every index and length is checked: a bad call throws, never writes
//   outside c.
napi_value Gemm(napi_env env, napi_callback_info info) {
  napi_value a[13];
  if (!args(env, info, a)) return fail(env, "gemm: expected 13 arguments");
  float *A, *B, *C, *bias;
  size_t aLen, bLen, cLen, biasLen, M, N, K;
  if (!typedArray(env, a[0], &A, &aLen)) return fail(env, "gemm: a must be a Float32Array");
  if (!typedArray(env, a[1], &B, &bLen)) return fail(env, "gemm: b must be a Float32Array");
  if (!typedArray(env, a[2], &C, &cLen)) return fail(env, "gemm: c must be a Float32Array");
  if (!count(env, a[3], &M) || !count(env, a[4], &N) || !count(env, a[5], &K) || M > INT32_MAX || N > INT32_MAX ||
      K > INT32_MAX)
    return fail(env, "gemm: M, N and K must be non-negative integers");
  bool tA = false, tB = false;
  if (napi_get_value_bool(env, a[6], &tA) != napi_ok || napi_get_value_bool(env, a[7], &tB) != napi_ok)
    return fail(env, "gemm: transposeA and transposeB must be booleans");
  int32_t *aSlice, *bSlice;
  size_t batch, bBatch;
  if (!typedArray(env, a[8], &aSlice, &batch) || !typedArray(env, a[9], &bSlice, &bBatch) || batch != bBatch)
    return fail(env, "gemm: aSlice and bSlice must be Int32Arrays of the same length");
  if (!optionalTypedArray(env, a[10], &bias, &biasLen)) return fail(env, "gemm: bias must be a Float32Array or null");
  int32_t activation = 0;
  double alpha = 0;
  if (napi_get_value_int32(env, a[11], &activation) != napi_ok || napi_get_value_double(env, a[12], &alpha) != napi_ok)
    return fail(env, "gemm: activation and alpha must be numbers");
  if (activation != kLinear && activation != kRelu && activation != kRelu6 && activation != kLeakyRelu &&
      activation != kSigmoid && activation != kElu)
    return fail(env, "gemm: unsupported activation code");

  const size_t aSize = M * K, bSize = K * N, cSize = M * N;
  Epilogue epi;
  epi.bias = bias, epi.activation = activation, epi.alpha = static_cast<float>(alpha);
  if (bias && biasLen != N) return fail(env, "gemm: bias must have N elements");
  if (cLen < batch * cSize) return fail(env, "gemm: c is smaller than the result");
  for (size_t i = 0; i < batch; i++) {
    if (aSlice[i] < 0 || (static_cast<size_t>(aSlice[i]) + 1) * aSize > aLen)
      return fail(env, "gemm: aSlice points outside a");
    if (bSlice[i] < 0 || (static_cast<size_t>(bSlice[i]) + 1) * bSize > bLen)
      return fail(env, "gemm: bSlice points outside b");
  }
  // op(A)(i,k) and op(B)(k,j) strides: a [M,K] is (K, 1); its transpose [K,M] in memory is (1, M).
  const long m = static_cast<long>(M), n = static_cast<long>(N), k = static_cast<long>(K);
  const long rsA = tA ? 1 : k, csA = tA ? m : 1;
  const long rsB = tB ? 1 : n, csB = tB ? k : 1;
  for (size_t i = 0; i < batch; i++) {
    float* out = C + i * cSize;
    if (!gemm(static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), A + aSlice[i] * aSize, rsA, csA,
              B + bSlice[i] * bSize, rsB, csB, out, n, epi))
      return fail(env, "gemm: out of memory for the packing buffers");
  }
  return nullptr;
}

// exp(x, out): out[i] = exp(x[i]); out at least as long as x.
napi_value Exp(napi_env env, napi_callback_info info) {
  napi_value a[2];
  if (!args(env, info, a)) return fail(env, "exp: expected 2 arguments");
  float *x, *out;
  size_t n, outLen;
  if (!typedArray(env, a[0], &x, &n) || !typedArray(env, a[1], &out, &outLen))
    return fail(env, "exp: x and out must be Float32Arrays");
  if (outLen < n) return fail(env, "exp: out is shorter than x");
  expArray(x, out, n);
  return nullptr;
}

// argMax(x, out, cols): out[i] = the first index of the largest of x[i*cols : (i+1)*cols], the
// loop of tfjs-backend-wasm's ArgMax (a NaN at index 0 keeps 0; later NaNs never win), so the
// labels are the stock kernel's. Why native: the stock kernel took 10 ms for the 5.8M logits of a
// ti16-256 batch of 8 (a greedy labelling), this loop about a fifth of it.
napi_value ArgMax(napi_env env, napi_callback_info info) {
  napi_value a[3];
  if (!args(env, info, a)) return fail(env, "argMax: expected 3 arguments");
  float* x;
  int32_t* out;
  size_t n, outLen, cols;
  if (!typedArray(env, a[0], &x, &n)) return fail(env, "argMax: x must be a Float32Array");
  if (!typedArray(env, a[1], &out, &outLen)) return fail(env, "argMax: out must be an Int32Array");
  if (!count(env, a[2], &cols) || cols == 0 || cols > INT32_MAX) return fail(env, "argMax: cols must be a positive integer");
  if (n % cols != 0) return fail(env, "argMax: x's length is not a multiple of cols");
  const size_t rows = n / cols;
  if (outLen < rows) return fail(env, "argMax: out is shorter than x's rows");
  for (size_t i = 0; i < rows; i++) {
    const float* row = x + i * cols;
    float best = row[0];
    int32_t at = 0;
    for (size_t j = 1; j < cols; j++)
      if (row[j] > best) best = row[j], at = static_cast<int32_t>(j);
    out[i] = at;
  }
  return nullptr;
}

// sum(x, out, pre, R, post, scale): x viewed as [pre, R, post]; out[pre, post] = scale * sum over R.
napi_value Sum(napi_env env, napi_callback_info info) {
  napi_value a[6];
  if (!args(env, info, a)) return fail(env, "sum: expected 6 arguments");
  float *x, *out;
  size_t n, outLen, pre, R, post;
  double scale;
  if (!typedArray(env, a[0], &x, &n) || !typedArray(env, a[1], &out, &outLen))
    return fail(env, "sum: x and out must be Float32Arrays");
  if (!count(env, a[2], &pre) || !count(env, a[3], &R) || !count(env, a[4], &post))
    return fail(env, "sum: pre, R and post must be non-negative integers");
  if (napi_get_value_double(env, a[5], &scale) != napi_ok) return fail(env, "sum: scale must be a number");
  if (pre * R * post > n) return fail(env, "sum: x is shorter than pre*R*post");
  if (pre * post > outLen) return fail(env, "sum: out is shorter than pre*post");
  sumMiddle(x, out, static_cast<long>(pre), static_cast<long>(R), static_cast<long>(post), static_cast<float>(scale));
  return nullptr;
}

// adam(w, g, m, v, wOut, mOut, vOut, scalars: Float64Array [b1, 1-b1, b2, 1-b2, bc1, bc2, eps, lr, wd],
//      l2, decoupled): the scalars are rounded to float32 here, as tfjs rounds them into tensors.
napi_value Adam(napi_env env, napi_callback_info info) {
  napi_value a[10];
  if (!args(env, info, a)) return fail(env, "adam: expected 10 arguments");
  float* arr[7];
  size_t len[7];
  for (int i = 0; i < 7; i++)
    if (!typedArray(env, a[i], &arr[i], &len[i])) return fail(env, "adam: w, g, m, v and the outputs must be Float32Arrays");
  for (int i = 1; i < 7; i++)
    if (len[i] != len[0]) return fail(env, "adam: every array must have the variable's length");
  double* sc;
  size_t scLen;
  AdamScalars s{};
  if (!typedArray(env, a[7], &sc, &scLen) || scLen != 9 || napi_get_value_bool(env, a[8], &s.l2) != napi_ok ||
      napi_get_value_bool(env, a[9], &s.decoupled) != napi_ok)
    return fail(env, "adam: expected 9 scalars and two booleans");
  s.b1 = static_cast<float>(sc[0]), s.oneMinusB1 = static_cast<float>(sc[1]);
  s.b2 = static_cast<float>(sc[2]), s.oneMinusB2 = static_cast<float>(sc[3]);
  s.bc1 = static_cast<float>(sc[4]), s.bc2 = static_cast<float>(sc[5]);
  s.eps = static_cast<float>(sc[6]), s.lr = static_cast<float>(sc[7]), s.wd = static_cast<float>(sc[8]);
  adamStep(arr[0], arr[1], arr[2], arr[3], arr[4], arr[5], arr[6], len[0], s);
  return nullptr;
}

// addInto(dst, src): dst[i] += src[i] in float32 (the data-parallel gradient sum, in place).
napi_value AddInto(napi_env env, napi_callback_info info) {
  napi_value a[2];
  if (!args(env, info, a)) return fail(env, "addInto: expected 2 arguments");
  float *dst, *src;
  size_t dLen, sLen;
  if (!typedArray(env, a[0], &dst, &dLen) || !typedArray(env, a[1], &src, &sLen) || dLen != sLen)
    return fail(env, "addInto: expected two Float32Arrays of the same length");
  for (size_t i = 0; i < dLen; i++) dst[i] = dst[i] + src[i];
  return nullptr;
}

}  // namespace

void registerKernels(napi_env env, napi_value exports) {
  setFunction(env, exports, "addInto", AddInto);
  setFunction(env, exports, "adam", Adam);
  setFunction(env, exports, "gemm", Gemm);
  setFunction(env, exports, "exp", Exp);
  setFunction(env, exports, "argMax", ArgMax);
  setFunction(env, exports, "sum", Sum);
}

}  // namespace fprl

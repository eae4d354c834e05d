// AVX2 helpers shared by the addon's kernels (kernels.cc, fused.cc): the target attribute and the
// vector exp, so every kernel that takes an exp gets the same bits for the same input.
#pragma once
#include <cmath>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define FPRL_X86 1
#else
#define FPRL_X86 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FPRL_AVX2 __attribute__((target("avx2,fma")))
#else
#define FPRL_AVX2
#endif

namespace fprl {
#if FPRL_X86
// exp(x) for 8 floats: Cephes' expf (range reduction by ln 2 in two parts, degree-5 polynomial),
// within 2 ulp of the correctly rounded result on [-87.3, 88.7]; +inf above, 0 below (where the
// true value is a denormal or 0), NaN stays NaN.
FPRL_AVX2 inline __m256 exp8(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.7228f), lo = _mm256_set1_ps(-87.3365f);
  // min/max return their second operand when one is NaN: NaN flows through.
  __m256 xc = _mm256_min_ps(hi, x);
  xc = _mm256_max_ps(lo, xc);
  __m256 fx = _mm256_fmadd_ps(xc, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
  fx = _mm256_floor_ps(fx);
  __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.f)));
  // 2^fx (fx in [-126, 128]) as 2^h * 2^(fx-h), h = fx/2: each factor is a normal float.
  const __m256i n = _mm256_cvttps_epi32(fx);
  const __m256i h = _mm256_srai_epi32(n, 1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, bias), 23));
  const __m256 p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(n, h), bias), 23));
  y = _mm256_mul_ps(_mm256_mul_ps(y, p1), p2);
  y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
  return y;
}

#endif
}  // namespace fprl

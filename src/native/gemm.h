// The addon's GEMM (kernels.cc) for the other kernels of the addon: the same loop nest and
// micro-kernel as the wasm backend's matMuls, so a product taken here has the bits of the same
// product taken through tf.matMul (every element one float32 FMA chain over k in increasing order).
#pragma once

namespace fprl {
// C[M,N] (row stride ldc) = op(A) op(B) with A(i,k) = A[i*rsA + k*csA], B(k,j) = B[k*rsB + j*csB].
// False when out of memory (the packing buffers).
bool gemmStrided(int M, int N, int K, const float* A, long rsA, long csA, const float* B, long rsB, long csB,
                 float* C, long ldc);
}  // namespace fprl

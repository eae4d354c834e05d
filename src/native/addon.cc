// fprl_native: the optional native addon (built by `npm install` through node-gyp, binding.gyp).
//   kernels.cc  matMul, exp and sums for the wasm backend's kernels (src/wasm/)
//   bandit.cc   the hot loops of a REINFORCE step: sampling, advantages, policy weights, class counts
//   conv.cc     im2col and col2im for the wasm backend's convolutions (src/wasm/conv-kernel.ts)
//   fused.cc    fused element-wise kernels, forward and backward: LayerNorm, GELU, softmax, the
//               per-pixel log-softmax loss (src/wasm/fused-kernels.ts)
//   direct-conv.cc  direct convolutions and their gradients (src/wasm/conv-native.ts)
// Everything is single-threaded and deterministic; src/native/index.ts loads it and says why not
// when it cannot.
#include "napi-util.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace {
// Large typed arrays (tens of MB per REINFORCE step: probabilities, draws, weights) come from
// glibc's malloc, which maps blocks over 128 KiB to fresh pages and unmaps them when freed: every
// step then pays a page fault per 4 KiB touched (~0.5 ms per MB on the development VM, more than
// the loops over them). Keeping such blocks in the heap lets freed memory be reused. RSS stays at
// the peak, as with any caching allocator. Returns whether the allocator took the settings.
napi_value KeepLargeBlocks(napi_env env, napi_callback_info) {
  bool ok = false;
#if defined(__GLIBC__)
  ok = mallopt(M_MMAP_THRESHOLD, 512 * 1024 * 1024) == 1 && mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024) == 1;
#endif
  napi_value r;
  napi_get_boolean(env, ok, &r);
  return r;
}
}  // namespace

NAPI_MODULE_INIT() {
  fprl::registerKernels(env, exports);
  fprl::registerBandit(env, exports);
  fprl::registerConv(env, exports);
  fprl::registerFused(env, exports);
  fprl::registerDirectConv(env, exports);
  fprl::setFunction(env, exports, "keepLargeBlocks", KeepLargeBlocks);
  napi_value supported, isa;
  napi_get_boolean(env, fprl::cpuSupported(), &supported);
  napi_set_named_property(env, exports, "supported", supported);
#if defined(__x86_64__) || defined(_M_X64)
  napi_create_string_utf8(env, "avx2+fma", NAPI_AUTO_LENGTH, &isa);
#else
  napi_create_string_utf8(env, "none", NAPI_AUTO_LENGTH, &isa);
#endif
  napi_set_named_property(env, exports, "isa", isa);
  return exports;
}

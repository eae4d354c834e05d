// N-API helpers shared by the addon's files (src/native/): typed-array views and errors.
#pragma once
#include <node_api.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace fprl {

// Throw a JS Error with `message` (code FPRL_NATIVE); returns nullptr for `return fail(...)`.
inline napi_value fail(napi_env env, const char* message) {
  napi_throw_error(env, "FPRL_NATIVE", message);
  return nullptr;
}

// fail() with the function's name in front: "name: error".
inline napi_value failWith(napi_env env, const char* name, const char* error) {
  return fail(env, (std::string(name) + ": " + error).c_str());
}

template <typename T>
constexpr napi_typedarray_type typedArrayType();
template <>
constexpr napi_typedarray_type typedArrayType<float>() { return napi_float32_array; }
template <>
constexpr napi_typedarray_type typedArrayType<double>() { return napi_float64_array; }
template <>
constexpr napi_typedarray_type typedArrayType<int32_t>() { return napi_int32_array; }
template <>
constexpr napi_typedarray_type typedArrayType<uint8_t>() { return napi_uint8_array; }

// The data and length of `v` when it is a typed array of element type T; false otherwise.
template <typename T>
bool typedArray(napi_env env, napi_value v, T** data, size_t* length) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  napi_typedarray_type type;
  void* ptr = nullptr;
  if (napi_get_typedarray_info(env, v, &type, length, &ptr, nullptr, nullptr) != napi_ok) return false;
  if (type != typedArrayType<T>()) return false;
  *data = static_cast<T*>(ptr);
  return true;
}

// Like typedArray, but null and undefined give (nullptr, 0) and true.
template <typename T>
bool optionalTypedArray(napi_env env, napi_value v, T** data, size_t* length) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_null || t == napi_undefined) {
    *data = nullptr;
    *length = 0;
    return true;
  }
  return typedArray(env, v, data, length);
}

// A non-negative integer argument (a JS number holding an integer); false otherwise.
inline bool count(napi_env env, napi_value v, size_t* out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || d != static_cast<double>(static_cast<int64_t>(d)))
    return false;
  *out = static_cast<size_t>(d);
  return true;
}

// Exactly N arguments into argv; false otherwise.
template <size_t N>
bool args(napi_env env, napi_callback_info info, napi_value (&argv)[N]) {
  size_t argc = N;
  return napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) == napi_ok && argc == N;
}

inline void setFunction(napi_env env, napi_value exports, const char* name, napi_callback fn) {
  napi_value f;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, nullptr, &f);
  napi_set_named_property(env, exports, name, f);
}

// Registration of each file's functions on the addon's exports.
void registerKernels(napi_env env, napi_value exports);
void registerBandit(napi_env env, napi_value exports);
void registerConv(napi_env env, napi_value exports);
void registerFused(napi_env env, napi_value exports);
void registerDirectConv(napi_env env, napi_value exports);
bool cpuSupported();

}  // namespace fprl

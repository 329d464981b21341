// The N-API plumbing the addon's functions share: reading arguments (typed arrays checked
// against the sizes they must have) and turning C++ exceptions into JavaScript errors.
#pragma once
#include <node_api.h>
#include <exception>
#include <string>
#include <utility>
#include <dnnl.hpp>

namespace lt::js {

struct JsError : std::exception {
  std::string message;
  explicit JsError(std::string m) : message(std::move(m)) {}
};

struct Args {
  napi_env env;
  napi_value argv[8];
  size_t argc = 8;
  Args(napi_env e, napi_callback_info info) : env(e) { napi_get_cb_info(e, info, &argc, argv, nullptr, nullptr); }

  /** A Float32Array argument of exactly `expected` elements, or null where `nullable`. */
  float* floats(size_t i, size_t expected, const char* what, bool nullable = false) {
    napi_valuetype type;
    if (i >= argc) throw JsError(std::string(what) + ": missing");
    napi_typeof(env, argv[i], &type);
    if (nullable && (type == napi_null || type == napi_undefined)) return nullptr;
    bool isTyped = false;
    napi_is_typedarray(env, argv[i], &isTyped);
    if (!isTyped) throw JsError(std::string(what) + ": expected a Float32Array");
    napi_typedarray_type t;
    size_t length;
    void* data;
    napi_get_typedarray_info(env, argv[i], &t, &length, &data, nullptr, nullptr);
    if (t != napi_float32_array) throw JsError(std::string(what) + ": expected a Float32Array");
    if (length != expected)
      throw JsError(std::string(what) + ": expected " + std::to_string(expected) + " values, got " + std::to_string(length));
    return static_cast<float*>(data);
  }

  /** The Int32Array of sizes, which must hold `count` non-negative values. */
  const int32_t* ints(size_t i, size_t count) {
    bool isTyped = false;
    if (i < argc) napi_is_typedarray(env, argv[i], &isTyped);
    if (!isTyped) throw JsError("sizes: expected an Int32Array");
    napi_typedarray_type t;
    size_t length;
    void* data;
    napi_get_typedarray_info(env, argv[i], &t, &length, &data, nullptr, nullptr);
    if (t != napi_int32_array || length != count) throw JsError("sizes: expected an Int32Array of " + std::to_string(count));
    return static_cast<const int32_t*>(data);
  }

  bool flag(size_t i) {
    bool v = false;
    if (i < argc) napi_get_value_bool(env, argv[i], &v);
    return v;
  }
};

template <typename F>
inline napi_value guarded(napi_env env, F&& body) {
  try {
    return body();
  } catch (const JsError& e) {
    napi_throw_type_error(env, "ERR_NATIVE_ARGS", e.message.c_str());
  } catch (const dnnl::error& e) {
    napi_throw_error(env, "ERR_NATIVE_DNNL", (std::string("oneDNN: ") + e.what()).c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, "ERR_NATIVE", e.what());
  }
  return nullptr;
}

inline napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/** A Float32Array argument of any length, and its length. */
inline std::pair<float*, size_t> anyFloats(Args& a, size_t i, const char* what) {
  bool isTyped = false;
  if (i < a.argc) napi_is_typedarray(a.env, a.argv[i], &isTyped);
  if (!isTyped) throw JsError(std::string(what) + ": expected a Float32Array");
  napi_typedarray_type t;
  size_t length;
  void* data;
  napi_get_typedarray_info(a.env, a.argv[i], &t, &length, &data, nullptr, nullptr);
  if (t != napi_float32_array) throw JsError(std::string(what) + ": expected a Float32Array");
  return {static_cast<float*>(data), length};
}

inline int32_t intArg(Args& a, size_t i, const char* what) {
  int32_t v = 0;
  if (i >= a.argc || napi_get_value_int32(a.env, a.argv[i], &v) != napi_ok) throw JsError(std::string(what) + ": expected a number");
  return v;
}

inline double numberArg(Args& a, size_t i, const char* what) {
  double v = 0;
  if (i >= a.argc || napi_get_value_double(a.env, a.argv[i], &v) != napi_ok) throw JsError(std::string(what) + ": expected a number");
  return v;
}

// Defined in ewAddon.cc: element-wise ops, sums and optimizer updates.
napi_value Binary(napi_env env, napi_callback_info info);
napi_value Unary(napi_env env, napi_callback_info info);
napi_value SumMiddle(napi_env env, napi_callback_info info);
napi_value SgdMomentum(napi_env env, napi_callback_info info);
napi_value Adam(napi_env env, napi_callback_info info);
// Defined in loss.cc: log-softmax + NLL and its gradient, the bias + ReLU gradient.
napi_value SoftmaxNll(napi_env env, napi_callback_info info);
napi_value SoftmaxNllGrad(napi_env env, napi_callback_info info);
napi_value ReluBiasGrad(napi_env env, napi_callback_info info);

}  // namespace lt::js

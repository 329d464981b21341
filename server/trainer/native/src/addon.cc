// N-API glue: each function takes the tensors' Float32Arrays (read in place, outputs written
// in place) and an Int32Array of sizes. Lengths are checked against the sizes here, so a
// wrong call from JavaScript is a thrown error, never a write out of bounds.
#include <node_api.h>
#include <omp.h>
#include <exception>
#include <string>
#include <utility>
#include "common.h"

namespace lt {
dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
dnnl::stream& stream() {
  static dnnl::stream s(engine());
  return s;
}
}  // namespace lt

namespace {

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
napi_value guarded(napi_env env, F&& body) {
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

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

lt::ConvShape convShape(const int32_t* p) {
  lt::ConvShape s{};
  int64_t* f[] = {&s.n, &s.h, &s.w, &s.ci, &s.co, &s.kh, &s.kw, &s.sh, &s.sw, &s.dh, &s.dw, &s.padT, &s.padL, &s.padB, &s.padR, &s.ho, &s.wo};
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    if (p[i] < 0) throw JsError("sizes: negative");
    *f[i] = p[i];
  }
  if (s.sh < 1 || s.sw < 1 || s.dh < 1 || s.dw < 1) throw JsError("sizes: strides and dilations must be at least 1");
  return s;
}
constexpr size_t kConvSizes = 17;

size_t xSize(const lt::ConvShape& s) { return s.n * s.h * s.w * s.ci; }
size_t ySize(const lt::ConvShape& s) { return s.n * s.ho * s.wo * s.co; }
size_t wSize(const lt::ConvShape& s) { return s.kh * s.kw * s.ci * s.co; }

// convForward(x, w, bias | null, y, sizes, relu)
napi_value ConvForward(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    lt::ConvShape s = convShape(a.ints(4, kConvSizes));
    lt::convForward(s, a.floats(0, xSize(s), "x"), a.floats(1, wSize(s), "filter"), a.floats(2, s.co, "bias", true),
                    a.floats(3, ySize(s), "y"), a.flag(5));
    return undefined(env);
  });
}

// convBackwardData(dy, w, dx, sizes)
napi_value ConvBackwardData(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    lt::ConvShape s = convShape(a.ints(3, kConvSizes));
    lt::convBackwardData(s, a.floats(0, ySize(s), "dy"), a.floats(1, wSize(s), "filter"), a.floats(2, xSize(s), "dx"));
    return undefined(env);
  });
}

// convBackwardWeights(x, dy, dw, sizes)
napi_value ConvBackwardWeights(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    lt::ConvShape s = convShape(a.ints(3, kConvSizes));
    lt::convBackwardWeights(s, a.floats(0, xSize(s), "x"), a.floats(1, ySize(s), "dy"), a.floats(2, wSize(s), "dw"));
    return undefined(env);
  });
}

// matmul(a, b, bias | null, c, sizes [batchA, batchB, m, k, n, transA, transB], relu)
napi_value MatMul(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    const int32_t* p = a.ints(4, 7);
    for (int i = 0; i < 5; i++)
      if (p[i] < 1) throw JsError("sizes: matmul sizes must be at least 1");
    lt::MatMulShape s{p[0], p[1], p[2], p[3], p[4], p[5] != 0, p[6] != 0};
    if (s.batchA != s.batchB && s.batchA != 1 && s.batchB != 1) throw JsError("sizes: batches must match or be 1");
    int64_t batch = std::max(s.batchA, s.batchB);
    lt::matmul(s, a.floats(0, s.batchA * s.m * s.k, "a"), a.floats(1, s.batchB * s.k * s.n, "b"), a.floats(2, s.n, "bias", true),
               a.floats(3, batch * s.m * s.n, "c"), a.flag(5));
    return undefined(env);
  });
}

lt::PoolShape poolShape(const int32_t* p) {
  lt::PoolShape s{p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11]};
  for (int i = 0; i < 12; i++)
    if (p[i] < 0) throw JsError("sizes: negative");
  if (s.sh < 1 || s.sw < 1) throw JsError("sizes: strides must be at least 1");
  return s;
}

// maxPool(x, y, sizes [n, h, w, c, kh, kw, sh, sw, padT, padL, ho, wo])
napi_value MaxPool(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    lt::PoolShape s = poolShape(a.ints(2, 12));
    lt::maxPool(s, a.floats(0, s.n * s.h * s.w * s.c, "x"), a.floats(1, s.n * s.ho * s.wo * s.c, "y"));
    return undefined(env);
  });
}

// maxPoolGrad(x, dy, dx, sizes)
napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    lt::PoolShape s = poolShape(a.ints(3, 12));
    lt::maxPoolGrad(s, a.floats(0, s.n * s.h * s.w * s.c, "x"), a.floats(1, s.n * s.ho * s.wo * s.c, "dy"),
                    a.floats(2, s.n * s.h * s.w * s.c, "dx"));
    return undefined(env);
  });
}

/** A Float32Array argument of any length, and its length. */
std::pair<float*, size_t> anyFloats(Args& a, size_t i, const char* what) {
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

int32_t intArg(Args& a, size_t i, const char* what) {
  int32_t v = 0;
  if (i >= a.argc || napi_get_value_int32(a.env, a.argv[i], &v) != napi_ok) throw JsError(std::string(what) + ": expected a number");
  return v;
}

// binary(op, a, b, out, sizes [rank, shape × rank, strides of a × rank, strides of b × rank])
napi_value Binary(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    int32_t op = intArg(a, 0, "op");
    if (op < 0 || op > int32_t(lt::BinaryOp::min)) throw JsError("op: unknown binary operation");
    bool isTyped = false;
    napi_is_typedarray(env, a.argv[4], &isTyped);
    if (!isTyped) throw JsError("sizes: expected an Int32Array");
    size_t count;
    void* raw;
    napi_typedarray_type t;
    napi_get_typedarray_info(env, a.argv[4], &t, &count, &raw, nullptr, nullptr);
    const int32_t* p = static_cast<const int32_t*>(raw);
    if (t != napi_int32_array || count < 1) throw JsError("sizes: expected an Int32Array");
    int rank = p[0];
    if (rank < 1 || rank > 8 || count != size_t(1 + 3 * rank)) throw JsError("sizes: rank 1 to 8, then shape and two stride lists");
    int64_t shape[8], sa[8], sb[8], total = 1, lastA = 0, lastB = 0;
    for (int d = 0; d < rank; d++) {
      shape[d] = p[1 + d];
      sa[d] = p[1 + rank + d];
      sb[d] = p[1 + 2 * rank + d];
      if (shape[d] < 1 || sa[d] < 0 || sb[d] < 0) throw JsError("sizes: shape ≥ 1 and strides ≥ 0");
      total *= shape[d];
      lastA += (shape[d] - 1) * sa[d];
      lastB += (shape[d] - 1) * sb[d];
    }
    auto [pa, na] = anyFloats(a, 1, "a");
    auto [pb, nb] = anyFloats(a, 2, "b");
    if (size_t(lastA) >= na || size_t(lastB) >= nb) throw JsError("sizes: strides reach past the end of an operand");
    lt::binary(lt::BinaryOp(op), pa, pb, a.floats(3, total, "out"), rank, shape, sa, sb);
    return undefined(env);
  });
}

// unary(op, x, y, alpha)
napi_value Unary(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    int32_t op = intArg(a, 0, "op");
    if (op < 0 || op > int32_t(lt::UnaryOp::abs)) throw JsError("op: unknown unary operation");
    auto [x, n] = anyFloats(a, 1, "x");
    double alpha = 0;
    if (a.argc > 3) napi_get_value_double(env, a.argv[3], &alpha);
    lt::unary(lt::UnaryOp(op), x, a.floats(2, n, "y"), int64_t(n), float(alpha));
    return undefined(env);
  });
}

// sumMiddle(x, out, sizes [outer, mid, inner])
napi_value SumMiddle(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    const int32_t* p = a.ints(2, 3);
    for (int i = 0; i < 3; i++)
      if (p[i] < 1) throw JsError("sizes: must be at least 1");
    int64_t outer = p[0], mid = p[1], inner = p[2];
    lt::sumMiddle(a.floats(0, outer * mid * inner, "x"), a.floats(1, outer * inner, "out"), outer, mid, inner);
    return undefined(env);
  });
}

double numberArg(Args& a, size_t i, const char* what) {
  double v = 0;
  if (i >= a.argc || napi_get_value_double(a.env, a.argv[i], &v) != napi_ok) throw JsError(std::string(what) + ": expected a number");
  return v;
}

// sgdMomentum(p, v, g, pOut, vOut, lr, momentum)
napi_value SgdMomentum(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    auto [p, n] = anyFloats(a, 0, "param");
    lt::sgdMomentum(p, a.floats(1, n, "velocity"), a.floats(2, n, "grad"), a.floats(3, n, "param out"), a.floats(4, n, "velocity out"),
                    int64_t(n), float(numberArg(a, 5, "lr")), float(numberArg(a, 6, "momentum")));
    return undefined(env);
  });
}

// adam(p, m, v, g, pOut, mOut, vOut, [beta1, beta2, stepSize, bias2, eps] as a Float64Array)
napi_value Adam(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    auto [p, n] = anyFloats(a, 0, "param");
    bool isTyped = false;
    if (a.argc > 7) napi_is_typedarray(env, a.argv[7], &isTyped);
    napi_typedarray_type t = napi_int8_array;
    size_t count = 0;
    void* raw = nullptr;
    if (isTyped) napi_get_typedarray_info(env, a.argv[7], &t, &count, &raw, nullptr, nullptr);
    if (t != napi_float64_array || count != 5) throw JsError("hyperparameters: expected a Float64Array of 5");
    const double* h = static_cast<const double*>(raw);
    lt::adam(p, a.floats(1, n, "m"), a.floats(2, n, "v"), a.floats(3, n, "grad"), a.floats(4, n, "param out"), a.floats(5, n, "m out"),
             a.floats(6, n, "v out"), int64_t(n), float(h[0]), float(h[1]), float(h[2]), float(h[3]), float(h[4]));
    return undefined(env);
  });
}

// setThreads(n): the OpenMP pool oneDNN and the loops use.
napi_value SetThreads(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    int32_t n = 0;
    if (a.argc < 1 || napi_get_value_int32(env, a.argv[0], &n) != napi_ok || n < 1) throw JsError("threads: expected a whole number ≥ 1");
    omp_set_num_threads(n);
    return undefined(env);
  });
}

// info(): { dnnl: "2.6.3", isa: "avx512_core", threads }
napi_value Info(napi_env env, napi_callback_info) {
  return guarded(env, [&] {
    napi_value obj, v;
    napi_create_object(env, &obj);
    const dnnl_version_t* ver = dnnl::version();
    std::string version = std::to_string(ver->major) + "." + std::to_string(ver->minor) + "." + std::to_string(ver->patch);
    napi_create_string_utf8(env, version.c_str(), version.size(), &v);
    napi_set_named_property(env, obj, "dnnl", v);
    const char* isa;
    switch (dnnl::get_effective_cpu_isa()) {
      case dnnl::cpu_isa::avx512_core_amx: isa = "avx512_core_amx"; break;
      case dnnl::cpu_isa::avx512_core_bf16: isa = "avx512_core_bf16"; break;
      case dnnl::cpu_isa::avx512_core_vnni: isa = "avx512_core_vnni"; break;
      case dnnl::cpu_isa::avx512_core: isa = "avx512_core"; break;
      case dnnl::cpu_isa::avx2_vnni: isa = "avx2_vnni"; break;
      case dnnl::cpu_isa::avx2: isa = "avx2"; break;
      case dnnl::cpu_isa::avx: isa = "avx"; break;
      case dnnl::cpu_isa::sse41: isa = "sse41"; break;
      default: isa = "other"; break;
    }
    napi_create_string_utf8(env, isa, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, obj, "isa", v);
    napi_create_int32(env, omp_get_max_threads(), &v);
    napi_set_named_property(env, obj, "threads", v);
    return obj;
  });
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"convForward", nullptr, ConvForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"convBackwardData", nullptr, ConvBackwardData, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"convBackwardWeights", nullptr, ConvBackwardWeights, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"matmul", nullptr, MatMul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPool", nullptr, MaxPool, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolGrad", nullptr, MaxPoolGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binary", nullptr, Binary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unary", nullptr, Unary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumMiddle", nullptr, SumMiddle, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sgdMomentum", nullptr, SgdMomentum, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adam", nullptr, Adam, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)

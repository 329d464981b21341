// N-API glue: each function takes the tensors' Float32Arrays (read in place, outputs written
// in place) and an Int32Array of sizes. Lengths are checked against the sizes here, so a
// wrong call from JavaScript is a thrown error, never a write out of bounds.
#include <node_api.h>
#include <omp.h>
#include <exception>
#include <string>
#include <utility>
#include "args.h"
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
using namespace lt::js;

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
      {"softmaxNll", nullptr, SoftmaxNll, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmaxNllGrad", nullptr, SoftmaxNllGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reluBiasGrad", nullptr, ReluBiasGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace
NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)

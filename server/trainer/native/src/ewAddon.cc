// N-API entry points of the element-wise kernels, sums and optimizer updates.
#include "args.h"
#include "common.h"

namespace lt::js {

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

}  // namespace lt::js

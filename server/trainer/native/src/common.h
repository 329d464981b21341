// Shared pieces of the addon: the oneDNN engine and stream, and the kernels' entry points.
// Every kernel works on caller-owned float buffers (the tensors' Float32Arrays), never copies.
#pragma once
#include <cstdint>
#include <string>
#include <dnnl.hpp>

namespace lt {

dnnl::engine& engine();
dnnl::stream& stream();

/** A convolution's geometry, NHWC activations and HWIO filters (TF.js's layouts). */
struct ConvShape {
  int64_t n, h, w, ci, co, kh, kw, sh, sw, dh, dw, padT, padL, padB, padR, ho, wo;
  std::string key() const;
};

void convForward(const ConvShape& s, const float* x, const float* w, const float* bias, float* y, bool relu);
void convBackwardData(const ConvShape& s, const float* dy, const float* w, float* dx);
void convBackwardWeights(const ConvShape& s, const float* x, const float* dy, float* dw);

/** C[b] = op(A[b]) · op(B[b]) (+ bias[N]) (relu); a batch of 1 on one side is broadcast. */
struct MatMulShape {
  int64_t batchA, batchB, m, k, n;
  bool transA, transB;
  std::string key() const;
};
void matmul(const MatMulShape& s, const float* a, const float* b, const float* bias, float* c, bool relu);

/** Max pooling, NHWC; ties go to the first maximum in window order (TF.js's cpu backend). */
struct PoolShape {
  int64_t n, h, w, c, kh, kw, sh, sw, padT, padL, ho, wo;
};
void maxPool(const PoolShape& s, const float* x, float* y);
void maxPoolGrad(const PoolShape& s, const float* x, const float* dy, float* dx);

}  // namespace lt

namespace lt {
/** Element-wise binary operations, in the order of the addon's op codes. */
enum class BinaryOp { add, sub, mul, div, max, min };
/**
 * out = a ∘ b over `rank` dims of `shape`, where a and b are read at element strides
 * `sa`/`sb` (0 along a broadcast dimension); out is dense.
 */
void binary(BinaryOp op, const float* a, const float* b, float* out, int rank, const int64_t* shape, const int64_t* sa, const int64_t* sb);

enum class UnaryOp { relu, step, neg, exp, log, sqrt, square, abs };
/** y = op(x) element-wise; `alpha` is Step's value for x ≤ 0 (NaN stays NaN). */
void unary(UnaryOp op, const float* x, float* y, int64_t n, float alpha);

/** out[o, i] = Σ_m x[o, m, i]: a sum over one contiguous block of axes, in double precision. */
void sumMiddle(const float* x, float* out, int64_t outer, int64_t mid, int64_t inner);
}  // namespace lt

namespace lt {
/** SGD with momentum (PyTorch's form): v' = μv + g; p' = p − lr·v'. */
void sgdMomentum(const float* p, const float* v, const float* g, float* pOut, float* vOut, int64_t n, float lr, float mu);
/** Adam: m' = β1m + (1−β1)g; v' = β2v + (1−β2)g²; p' = p − stepSize·m' / (√v'/bias2 + ε). */
void adam(const float* p, const float* m, const float* v, const float* g, float* pOut, float* mOut, float* vOut, int64_t n,
          float beta1, float beta2, float stepSize, float bias2, float eps);
}  // namespace lt

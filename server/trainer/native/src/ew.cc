// Element-wise arithmetic and sums. The cpu backend computes these in JavaScript through
// generic index arithmetic (and transposes before reducing); a training step makes dozens of
// such calls, so plain vectorisable loops here are where much of a step's time is won.
#include <cmath>
#include <vector>
#include "common.h"

namespace lt {
namespace {

// Work below this many elements is not worth waking a second thread for.
constexpr int64_t kParallelMin = 1 << 16;

template <typename F>
void rows(F f, const float* a, const float* b, float* out, int rank, const int64_t* shape, const int64_t* sa, const int64_t* sb) {
  int64_t inner = shape[rank - 1], ia = sa[rank - 1], ib = sb[rank - 1];
  int64_t outer = 1;
  for (int d = 0; d < rank - 1; d++) outer *= shape[d];
#pragma omp parallel for if (outer * inner >= kParallelMin && outer > 1)
  for (int64_t r = 0; r < outer; r++) {
    int64_t rem = r, offA = 0, offB = 0;
    for (int d = rank - 2; d >= 0; d--) {
      int64_t i = rem % shape[d];
      rem /= shape[d];
      offA += i * sa[d];
      offB += i * sb[d];
    }
    const float* pa = a + offA;
    const float* pb = b + offB;
    float* po = out + r * inner;
    if (ia == 1 && ib == 1) {
      for (int64_t i = 0; i < inner; i++) po[i] = f(pa[i], pb[i]);
    } else if (ia == 1 && ib == 0) {
      const float vb = pb[0];
      for (int64_t i = 0; i < inner; i++) po[i] = f(pa[i], vb);
    } else if (ia == 0 && ib == 1) {
      const float va = pa[0];
      for (int64_t i = 0; i < inner; i++) po[i] = f(va, pb[i]);
    } else {
      for (int64_t i = 0; i < inner; i++) po[i] = f(pa[i * ia], pb[i * ib]);
    }
  }
}

template <typename F>
void map(F f, const float* x, float* y, int64_t n) {
#pragma omp parallel for if (n >= kParallelMin)
  for (int64_t i = 0; i < n; i++) y[i] = f(x[i]);
}

}  // namespace

void binary(BinaryOp op, const float* a, const float* b, float* out, int rank, const int64_t* shape, const int64_t* sa, const int64_t* sb) {
  switch (op) {
    case BinaryOp::add: return rows([](float x, float y) { return x + y; }, a, b, out, rank, shape, sa, sb);
    case BinaryOp::sub: return rows([](float x, float y) { return x - y; }, a, b, out, rank, shape, sa, sb);
    case BinaryOp::mul: return rows([](float x, float y) { return x * y; }, a, b, out, rank, shape, sa, sb);
    case BinaryOp::div: return rows([](float x, float y) { return x / y; }, a, b, out, rank, shape, sa, sb);
    // NaN in either operand gives NaN, as in TF.js.
    case BinaryOp::max: return rows([](float x, float y) { return (x != x || y != y) ? NAN : (x > y ? x : y); }, a, b, out, rank, shape, sa, sb);
    case BinaryOp::min: return rows([](float x, float y) { return (x != x || y != y) ? NAN : (x < y ? x : y); }, a, b, out, rank, shape, sa, sb);
  }
}

void unary(UnaryOp op, const float* x, float* y, int64_t n, float alpha) {
  switch (op) {
    // TF.js's cpu Relu keeps NaN (x < 0 ? 0 : x).
    case UnaryOp::relu: return map([](float v) { return v < 0.f ? 0.f : v; }, x, y, n);
    case UnaryOp::step: return map([alpha](float v) { return v != v ? NAN : (v > 0.f ? 1.f : alpha); }, x, y, n);
    case UnaryOp::neg: return map([](float v) { return -v; }, x, y, n);
    case UnaryOp::exp: return map([](float v) { return std::exp(v); }, x, y, n);
    case UnaryOp::log: return map([](float v) { return std::log(v); }, x, y, n);
    case UnaryOp::sqrt: return map([](float v) { return std::sqrt(v); }, x, y, n);
    case UnaryOp::square: return map([](float v) { return v * v; }, x, y, n);
    case UnaryOp::abs: return map([](float v) { return std::fabs(v); }, x, y, n);
  }
}

void sumMiddle(const float* x, float* out, int64_t outer, int64_t mid, int64_t inner) {
#pragma omp parallel if (outer * mid * inner >= kParallelMin)
  {
    std::vector<double> acc(inner);
#pragma omp for
    for (int64_t o = 0; o < outer; o++) {
      std::fill(acc.begin(), acc.end(), 0.0);
      const float* base = x + o * mid * inner;
      for (int64_t m = 0; m < mid; m++) {
        const float* row = base + m * inner;
        for (int64_t i = 0; i < inner; i++) acc[i] += row[i];
      }
      for (int64_t i = 0; i < inner; i++) out[o * inner + i] = static_cast<float>(acc[i]);
    }
  }
}

}  // namespace lt

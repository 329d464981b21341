// Log-softmax + negative log-likelihood and its gradient, each as one pass over the logits;
// and the gradient through a fused bias + ReLU (dy·step(y) and its sum per channel) in one pass.
// Composed of TF.js ops the pair is about a dozen kernel calls per step (max, sub, exp, sum,
// log, sub, mul, sum, mean, neg and their gradients); here it is one call each way.
#include <cmath>
#include <vector>
#include "args.h"
#include "common.h"

namespace lt {

float softmaxNll(const float* x, const float* t, int64_t rows, int64_t cols) {
  double total = 0;
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    const float* tr = t + r * cols;
    float mx = -INFINITY;
    for (int64_t c = 0; c < cols; c++) mx = xr[c] > mx ? xr[c] : mx;
    double s = 0;
    for (int64_t c = 0; c < cols; c++) s += std::exp(double(xr[c] - mx));
    const float logSum = float(std::log(s));
    // Every product is taken, as the composed ops do, so 0 · −∞ still gives NaN.
    for (int64_t c = 0; c < cols; c++) total += double(tr[c]) * double((xr[c] - mx) - logSum);
  }
  return float(-total / double(rows));
}

void softmaxNllGrad(const float* x, const float* t, float dy, float* dx, int64_t rows, int64_t cols) {
  const double scale = double(dy) / double(rows);
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * cols;
    const float* tr = t + r * cols;
    float* dr = dx + r * cols;
    float mx = -INFINITY;
    for (int64_t c = 0; c < cols; c++) mx = xr[c] > mx ? xr[c] : mx;
    double s = 0, tSum = 0;
    for (int64_t c = 0; c < cols; c++) {
      s += std::exp(double(xr[c] - mx));
      tSum += tr[c];
    }
    // d/dx_c of −Σ t·log_softmax(x) is softmax(x)_c·Σt − t_c (Σt = 1 for one-hot targets).
    for (int64_t c = 0; c < cols; c++) dr[c] = float(scale * (std::exp(double(xr[c] - mx)) / s * tSum - tr[c]));
  }
}

}  // namespace lt

namespace lt::js {

// softmaxNll(logits, targets, out [1], sizes [rows, cols])
napi_value SoftmaxNll(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    const int32_t* p = a.ints(3, 2);
    if (p[0] < 1 || p[1] < 1) throw JsError("sizes: rows and columns must be at least 1");
    int64_t rows = p[0], cols = p[1];
    float* out = a.floats(2, 1, "loss");
    out[0] = lt::softmaxNll(a.floats(0, rows * cols, "logits"), a.floats(1, rows * cols, "targets"), rows, cols);
    return undefined(env);
  });
}

// softmaxNllGrad(logits, targets, dy, dx, sizes [rows, cols])
napi_value SoftmaxNllGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    const int32_t* p = a.ints(4, 2);
    if (p[0] < 1 || p[1] < 1) throw JsError("sizes: rows and columns must be at least 1");
    int64_t rows = p[0], cols = p[1];
    lt::softmaxNllGrad(a.floats(0, rows * cols, "logits"), a.floats(1, rows * cols, "targets"), float(numberArg(a, 2, "dy")),
                       a.floats(3, rows * cols, "dx"), rows, cols);
    return undefined(env);
  });
}

}  // namespace lt::js

namespace lt {

void reluBiasGrad(const float* dy, const float* y, float* dyAct, float* dBias, int64_t rows, int64_t channels) {
  std::vector<double> acc(channels, 0.0);
  for (int64_t r = 0; r < rows; r++) {
    const float* dr = dy + r * channels;
    const float* yr = y + r * channels;
    float* out = dyAct + r * channels;
    for (int64_t c = 0; c < channels; c++) {
      // dy · step(y), as TF.js computes it: NaN in y stays NaN, and ∞·0 is NaN.
      const float g = dr[c] * (yr[c] != yr[c] ? NAN : (yr[c] > 0.f ? 1.f : 0.f));
      out[c] = g;
      acc[c] += g;
    }
  }
  for (int64_t c = 0; c < channels; c++) dBias[c] = float(acc[c]);
}

}  // namespace lt

namespace lt::js {

// reluBiasGrad(dy, y, dyAct, dBias, sizes [rows, channels])
napi_value ReluBiasGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    Args a(env, info);
    const int32_t* p = a.ints(4, 2);
    if (p[0] < 1 || p[1] < 1) throw JsError("sizes: rows and channels must be at least 1");
    int64_t rows = p[0], ch = p[1];
    lt::reluBiasGrad(a.floats(0, rows * ch, "dy"), a.floats(1, rows * ch, "y"), a.floats(2, rows * ch, "dyAct"), a.floats(3, ch, "dBias"), rows,
                     ch);
    return undefined(env);
  });
}

}  // namespace lt::js

// Optimizer updates as one pass per parameter: in TF.js ops each update is four to nine
// kernel calls per parameter, and at this model's size the calls cost more than the arithmetic.
#include <cmath>
#include "common.h"

namespace lt {

void sgdMomentum(const float* p, const float* v, const float* g, float* pOut, float* vOut, int64_t n, float lr, float mu) {
  for (int64_t i = 0; i < n; i++) {
    float nv = v[i] * mu + g[i];
    vOut[i] = nv;
    pOut[i] = p[i] - nv * lr;
  }
}

void adam(const float* p, const float* m, const float* v, const float* g, float* pOut, float* mOut, float* vOut, int64_t n,
          float beta1, float beta2, float stepSize, float bias2, float eps) {
  for (int64_t i = 0; i < n; i++) {
    float nm = m[i] * beta1 + g[i] * (1.f - beta1);
    float nv = v[i] * beta2 + g[i] * g[i] * (1.f - beta2);
    mOut[i] = nm;
    vOut[i] = nv;
    pOut[i] = p[i] - (nm / (std::sqrt(nv) / bias2 + eps)) * stepSize;
  }
}

}  // namespace lt

// Max pooling and its gradient, NHWC, as plain loops: memory-bound work where a library call
// buys nothing, and the gradient must route to the first maximum as TF.js's cpu backend does
// (oneDNN's backward pass needs a workspace that TF.js's MaxPoolGrad does not carry).
#include <algorithm>
#include <limits>
#include <vector>
#include "common.h"

namespace lt {

namespace {
/** For output (n, oy, ox): the index of each channel's first maximum, or -1 for an empty window. */
void argmaxWindow(const PoolShape& s, const float* x, int64_t n, int64_t oy, int64_t ox, float* best, int64_t* at) {
  for (int64_t c = 0; c < s.c; c++) {
    best[c] = -std::numeric_limits<float>::infinity();
    at[c] = -1;
  }
  for (int64_t fy = 0; fy < s.kh; fy++) {
    int64_t iy = oy * s.sh - s.padT + fy;
    if (iy < 0 || iy >= s.h) continue;
    for (int64_t fx = 0; fx < s.kw; fx++) {
      int64_t ix = ox * s.sw - s.padL + fx;
      if (ix < 0 || ix >= s.w) continue;
      int64_t base = ((n * s.h + iy) * s.w + ix) * s.c;
      for (int64_t c = 0; c < s.c; c++) {
        float v = x[base + c];
        // Strictly greater, as TF.js's cpu backend compares: ties keep the first, NaN never wins.
        if (v > best[c]) {
          best[c] = v;
          at[c] = base + c;
        }
      }
    }
  }
}
/** 2×2 windows at stride 2 that all lie inside the input: the common case, unrolled. */
bool isPool2x2(const PoolShape& s) {
  return s.kh == 2 && s.kw == 2 && s.sh == 2 && s.sw == 2 && s.padT == 0 && s.padL == 0 && 2 * s.ho <= s.h && 2 * s.wo <= s.w;
}

void maxPool2x2(const PoolShape& s, const float* x, float* y) {
  const int64_t row = s.w * s.c, C = s.c;
#pragma omp parallel for collapse(2) if (s.n * s.h * row >= (1 << 16))
  for (int64_t n = 0; n < s.n; n++) {
    for (int64_t oy = 0; oy < s.ho; oy++) {
      for (int64_t ox = 0; ox < s.wo; ox++) {
        const float* p = x + ((n * s.h + 2 * oy) * s.w + 2 * ox) * C;
        float* out = y + ((n * s.ho + oy) * s.wo + ox) * C;
        for (int64_t c = 0; c < C; c++) {
          // (v > m ? v : m) is maxps: vectorised, and NaN never wins, as on the cpu backend.
          float m = -std::numeric_limits<float>::infinity();
          m = p[c] > m ? p[c] : m;
          m = p[C + c] > m ? p[C + c] : m;
          m = p[row + c] > m ? p[row + c] : m;
          m = p[row + C + c] > m ? p[row + C + c] : m;
          out[c] = m;
        }
      }
    }
  }
}

void maxPoolGrad2x2(const PoolShape& s, const float* x, const float* dy, float* dx) {
  const int64_t row = s.w * s.c, C = s.c;
#pragma omp parallel for if (s.n * s.h * row >= (1 << 16))
  for (int64_t n = 0; n < s.n; n++) {
    // Rows and columns no window covers (odd sizes) get no gradient.
    std::fill(dx + n * s.h * row, dx + (n + 1) * s.h * row, 0.f);
    for (int64_t oy = 0; oy < s.ho; oy++) {
      for (int64_t ox = 0; ox < s.wo; ox++) {
        const int64_t base = ((n * s.h + 2 * oy) * s.w + 2 * ox) * C;
        const float* p = x + base;
        const float* g = dy + ((n * s.ho + oy) * s.wo + ox) * C;
        float* d = dx + base;
        for (int64_t c = 0; c < C; c++) {
          // The first maximum in window order (TL, TR, BL, BR) takes the gradient.
          float m = -std::numeric_limits<float>::infinity();
          int at = -1;
          if (p[c] > m) { m = p[c]; at = 0; }
          if (p[C + c] > m) { m = p[C + c]; at = 1; }
          if (p[row + c] > m) { m = p[row + c]; at = 2; }
          if (p[row + C + c] > m) { at = 3; }
          if (at == 0) d[c] = g[c];
          else if (at == 1) d[C + c] = g[c];
          else if (at == 2) d[row + c] = g[c];
          else if (at == 3) d[row + C + c] = g[c];
        }
      }
    }
  }
}
}  // namespace

void maxPool(const PoolShape& s, const float* x, float* y) {
  if (isPool2x2(s)) return maxPool2x2(s, x, y);
#pragma omp parallel
  {
    std::vector<float> best(s.c);
    std::vector<int64_t> at(s.c);
#pragma omp for collapse(2)
    for (int64_t n = 0; n < s.n; n++) {
      for (int64_t oy = 0; oy < s.ho; oy++) {
        for (int64_t ox = 0; ox < s.wo; ox++) {
          argmaxWindow(s, x, n, oy, ox, best.data(), at.data());
          float* out = y + ((n * s.ho + oy) * s.wo + ox) * s.c;
          for (int64_t c = 0; c < s.c; c++) out[c] = at[c] >= 0 ? best[c] : -std::numeric_limits<float>::infinity();
        }
      }
    }
  }
}

void maxPoolGrad(const PoolShape& s, const float* x, const float* dy, float* dx) {
  if (isPool2x2(s)) return maxPoolGrad2x2(s, x, dy, dx);
  // Each sample's windows write only inside that sample, so samples run in parallel.
#pragma omp parallel
  {
    std::vector<float> best(s.c);
    std::vector<int64_t> at(s.c);
#pragma omp for
    for (int64_t n = 0; n < s.n; n++) {
      std::fill(dx + n * s.h * s.w * s.c, dx + (n + 1) * s.h * s.w * s.c, 0.f);
      for (int64_t oy = 0; oy < s.ho; oy++) {
        for (int64_t ox = 0; ox < s.wo; ox++) {
          argmaxWindow(s, x, n, oy, ox, best.data(), at.data());
          const float* g = dy + ((n * s.ho + oy) * s.wo + ox) * s.c;
          for (int64_t c = 0; c < s.c; c++)
            if (at[c] >= 0) dx[at[c]] += g[c];
        }
      }
    }
  }
}

}  // namespace lt

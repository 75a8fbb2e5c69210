#include "kernels/ops.h"

#include <algorithm>
#include <cmath>

#include "kernels/vexp.h"

namespace edgevl {

void rmsnorm(const float* x, const float* w, float* out, int64_t rows, int64_t n, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* o = out + r * n;
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const float inv = 1.0f / std::sqrt(static_cast<float>(ss / n) + eps);
    for (int64_t i = 0; i < n; ++i) o[i] = xr[i] * inv * w[i];
  }
}

void layernorm(const float* x, const float* w, const float* b, float* out, int64_t rows, int64_t n, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* o = out + r * n;
    double mean = 0;
    for (int64_t i = 0; i < n; ++i) mean += xr[i];
    mean /= n;
    double var = 0;
    for (int64_t i = 0; i < n; ++i) {
      double d = xr[i] - mean;
      var += d * d;
    }
    var /= n;
    const float inv = 1.0f / std::sqrt(static_cast<float>(var) + eps);
    const float m = static_cast<float>(mean);
    for (int64_t i = 0; i < n; ++i) o[i] = (xr[i] - m) * inv * w[i] + (b ? b[i] : 0.0f);
  }
}

namespace {

// x[i] = x[i] · sigmoid(a·x[i]) (· up[i] when given), with exp through vec_exp in chunks
// that stay in L1.
void gated_sigmoid(float* x, const float* up, int64_t n, float a) {
  constexpr int64_t kChunk = 256;
  float e[kChunk];
  for (int64_t i0 = 0; i0 < n; i0 += kChunk) {
    const int64_t m = std::min(kChunk, n - i0);
    for (int64_t i = 0; i < m; ++i) e[i] = -a * x[i0 + i];
    vec_exp(e, e, m);
    if (up)
      for (int64_t i = 0; i < m; ++i) x[i0 + i] = x[i0 + i] / (1.0f + e[i]) * up[i0 + i];
    else
      for (int64_t i = 0; i < m; ++i) x[i0 + i] = x[i0 + i] / (1.0f + e[i]);
  }
}

}  // namespace

void silu_inplace(float* x, int64_t n) { gated_sigmoid(x, nullptr, n, 1.0f); }

void gelu_erf_inplace(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
}

void quick_gelu_inplace(float* x, int64_t n) { gated_sigmoid(x, nullptr, n, 1.702f); }

void swiglu_inplace(float* gate, const float* up, int64_t n) { gated_sigmoid(gate, up, n, 1.0f); }

void add_inplace(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace edgevl

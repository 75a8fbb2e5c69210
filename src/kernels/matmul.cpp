#include "kernels/matmul.h"

#include <algorithm>
#include <string>

#include "core/cpu_features.h"
#include "core/error.h"
#include "kernels/dot.h"

namespace edgevl {

const DotTable& dot_table_best() {
  static const DotTable t = [] {
#if defined(__x86_64__)
    const auto& f = cpu_features();
    if (f.avx2 && f.fma && f.f16c) return dot_table_avx2();
#endif
    return dot_table_scalar();
  }();
  return t;
}

void matmul(const float* x, int64_t M, const WeightMatrix& W, const float* bias, float* y, ThreadPool& pool) {
  DotFn dot = dot_table_best().for_type(W.type);
  if (!dot) {
    // Types without a fused dot yet (block-quantized): dequantize each row once per
    // block of activations. Correct everywhere; the fast paths replace this.
    const int64_t N = W.rows, K = W.cols;
    pool.parallel_for(N, [&](int64_t n0, int64_t n1) {
      std::vector<float> row(static_cast<size_t>(K));
      for (int64_t n = n0; n < n1; ++n) {
        dequantize_row(W, n, row.data());
        for (int64_t m = 0; m < M; ++m) {
          const float* xm = x + m * K;
          float s = 0;
          for (int64_t k = 0; k < K; ++k) s += xm[k] * row[k];
          y[m * N + n] = s + (bias ? bias[n] : 0.0f);
        }
      }
    });
    return;
  }
  const int64_t N = W.rows, K = W.cols;
  // Activations are walked in blocks of rows that stay in L2 while every weight row
  // of this thread's share passes over them.
  const int64_t mb = std::max<int64_t>(1, std::min<int64_t>(M, (256 * 1024) / std::max<int64_t>(1, K * 4)));
  pool.parallel_for(N, [&](int64_t n0, int64_t n1) {
    for (int64_t m0 = 0; m0 < M; m0 += mb) {
      const int64_t m1 = std::min(M, m0 + mb);
      for (int64_t n = n0; n < n1; ++n) {
        const uint8_t* w = W.row(n);
        const float b = bias ? bias[n] : 0.0f;
        for (int64_t m = m0; m < m1; ++m) y[m * N + n] = dot(x + m * K, w, K) + b;
      }
    }
  });
}

}  // namespace edgevl

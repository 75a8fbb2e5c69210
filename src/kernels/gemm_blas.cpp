#include "kernels/gemm_blas.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <vector>

#include <cmath>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/vexp.h"

#ifdef EDGEVL_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace edgevl {

#ifdef EDGEVL_HAVE_OPENBLAS

bool gemm_available() { return true; }

bool matmul_gemm(const float* x, int64_t M, const WeightMatrix& W, const float* bias, float* y, ThreadPool& pool) {
  // Our pool owns the cores: every sgemm call runs single-threaded on its panel.
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
  const int64_t N = W.rows, K = W.cols;
  // Panels of weight rows: large enough for sgemm to reach its peak (each call re-packs
  // all of x, so small panels pay that again and again), small enough to keep the f32
  // copy in L2/L3 (256 x 1280 x 4 = 1.3 MB); a whole number per thread (1280 rows in 5
  // panels of 256 would leave one of two threads idle a sixth of the time), handed out on
  // demand so a thread the OS preempts takes fewer.
  const int64_t nt = pool.size();
  const int64_t per_thread = (((N + 255) / 256) + nt - 1) / nt;
  const int64_t nb = std::max<int64_t>(16, ((N + per_thread * nt - 1) / (per_thread * nt) + 15) / 16 * 16);
  const int64_t panels = (N + nb - 1) / nb;
  std::atomic<int64_t> next{0};
  pool.run([&](int, int) {
    std::vector<float> panel;
    for (int64_t p; (p = next.fetch_add(1, std::memory_order_relaxed)) < panels;) {
      panel.resize(static_cast<size_t>(nb * K));
      const int64_t n0 = p * nb, rows = std::min(nb, N - n0);
      for (int64_t r = 0; r < rows; ++r) dequantize_row_fast(W, n0 + r, panel.data() + r * K);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), int(rows), int(K), 1.0f, x, int(K), panel.data(), int(K), 0.0f,
                  y + n0, int(N));
      if (bias)
        for (int64_t m = 0; m < M; ++m)
          for (int64_t r = 0; r < rows; ++r) y[m * N + n0 + r] += bias[n0 + r];
    }
  });
  return true;
}

// Max of n >= 1 floats in 8 independent lanes, which the compiler turns into vector maxes
// (a single running max is a serial chain it may not reorder).
static float row_max(const float* x, int64_t n) {
  float m[8];
  for (int k = 0; k < 8; ++k) m[k] = x[0];
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) m[k] = x[j + k] > m[k] ? x[j + k] : m[k];
  float r = m[0];
  for (int k = 1; k < 8; ++k) r = std::max(r, m[k]);
  for (; j < n; ++j) r = std::max(r, x[j]);
  return r;
}

bool attention_gemm(const AttentionArgs& a, ThreadPool& pool) {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
  const int group = a.n_head / a.n_kv_head;
  const int hd = a.head_dim;
  pool.parallel_for(a.n_head, [&](int64_t h0, int64_t h1) {
    std::vector<float> scores(static_cast<size_t>(a.nq * a.nk));
    for (int64_t h = h0; h < h1; ++h) {
      const int kvh = int(h) / group;
      const float* q = a.q + h * hd;
      const float* k = a.k + int64_t(kvh) * hd;
      const float* v = a.v + int64_t(kvh) * hd;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(a.nq), int(a.nk), hd, a.scale, q, int(a.q_stride), k, int(a.kv_stride), 0.0f,
                  scores.data(), int(a.nk));
      for (int64_t i = 0; i < a.nq; ++i) {
        float* row = scores.data() + i * a.nk;
        const int64_t nvis = a.causal_offset < 0 ? a.nk : std::min<int64_t>(a.nk, i + a.causal_offset + 1);
        const float mx = row_max(row, nvis);
        const float inv = 1.0f / vec_exp(row, row, nvis, mx);
        for (int64_t j = 0; j < nvis; ++j) row[j] *= inv;
        for (int64_t j = nvis; j < a.nk; ++j) row[j] = 0.0f;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(a.nq), hd, int(a.nk), 1.0f, scores.data(), int(a.nk), v, int(a.kv_stride),
                  0.0f, a.out + h * hd, int(a.out_stride));
    }
  });
  return true;
}

#else

bool gemm_available() { return false; }
bool attention_gemm(const AttentionArgs&, ThreadPool&) { return false; }
bool matmul_gemm(const float*, int64_t, const WeightMatrix&, const float*, float*, ThreadPool&) { return false; }

#endif

}  // namespace edgevl

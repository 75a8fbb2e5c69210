#include "kernels/gemm_blas.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "kernels/matmul.h"

#ifdef EDGEVL_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace edgevl {

#ifdef EDGEVL_HAVE_OPENBLAS

bool matmul_gemm(const float* x, int64_t M, const WeightMatrix& W, const float* bias, float* y, ThreadPool& pool) {
  // Our pool owns the cores: every sgemm call runs single-threaded on its panel.
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
  const int64_t N = W.rows, K = W.cols;
  // Panels of weight rows, at most 2048: each sgemm call re-packs all of x, so small panels
  // pay that again and again (vision tower of the 2B, 784 rows: with 256-row panels the
  // packing took 12% of the encode's samples, with 2048-row ones 7.5%); the f32 copy then
  // leaves the cache, but it is read once per panel while x is read many times. At most
  // 8 MiB each, so that the transient copies stay small next to the model (a 7B's 18944-wide
  // down projection gets 110-row panels). A whole number of panels per thread (1280 rows in
  // 5 panels would leave one of two threads idle a sixth of the time), handed out on demand
  // so a thread the OS preempts takes fewer.
  const int64_t max_rows = std::clamp<int64_t>((int64_t{8} << 20) / (4 * K), 16, 2048);
  const int64_t nt = pool.size();
  const int64_t per_thread = (((N + max_rows - 1) / max_rows) + nt - 1) / nt;
  const int64_t nb = std::max<int64_t>(16, ((N + per_thread * nt - 1) / (per_thread * nt) + 15) / 16 * 16);
  const int64_t panels = (N + nb - 1) / nb;
  std::atomic<int64_t> next{0};
  pool.share([&](int, int) {
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

bool sgemm_available() { return true; }

const char* blas_name() {
  static const std::string name = std::string("OpenBLAS ") + openblas_get_corename();
  return name.c_str();
}

bool sgemm_tile(bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
                float beta, float* C, int64_t ldc) {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
  cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, int(M), int(N), int(K), alpha, A, int(lda), B, int(ldb), beta,
              C, int(ldc));
  return true;
}

#else

bool sgemm_available() { return false; }
const char* blas_name() { return "none"; }
bool sgemm_tile(bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float, float*, int64_t) { return false; }
bool matmul_gemm(const float*, int64_t, const WeightMatrix&, const float*, float*, ThreadPool&) { return false; }

#endif

}  // namespace edgevl

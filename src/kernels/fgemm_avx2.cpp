// AVX2 micro-kernel of the float GEMM (fgemm.h): a 6 x 16 tile of C in 12 accumulators.
// Per element of K: two weight vectors, six broadcast activations, twelve FMAs (the FMA
// units are the limit, as in any f32 GEMM on these cores).
// Compiled with -mavx2 -mfma -mf16c; only called after cpu_features() confirmed support.
#include <immintrin.h>

#include "kernels/fgemm.h"

namespace edgevl {

namespace {

static_assert(kFGemmMR == 6 && kFGemmNR == 16, "the tile below is written for 6 x 16");

void tile_avx2(const float* a, const float* b, int64_t kc, float* c, int64_t ldc, int m, int n, const float* bias) {
  // Twelve named accumulators: with an array GCC 12 stores every one back to the stack on
  // each step of k (a third of the speed).
  // C's lines are fetched while the products run: its rows are N floats apart and often
  // out of cache, and a miss at the final store would stall the tile.
  for (int r = 0; r < 6; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 15), _MM_HINT_T0);
  }
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k, a += 6, b += 16) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    __m256 av = _mm256_broadcast_ss(a);
    c00 = _mm256_fmadd_ps(av, b0, c00);
    c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(av, b0, c10);
    c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(av, b0, c20);
    c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(av, b0, c30);
    c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(av, b0, c40);
    c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(av, b0, c50);
    c51 = _mm256_fmadd_ps(av, b1, c51);
  }
  const __m256 acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (m == 6 && n == 16) {
    const __m256 bias0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    const __m256 bias1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    for (int r = 0; r < 6; ++r) {
      _mm256_storeu_ps(c + r * ldc, _mm256_add_ps(acc[r][0], bias0));
      _mm256_storeu_ps(c + r * ldc + 8, _mm256_add_ps(acc[r][1], bias1));
    }
    return;
  }
  alignas(32) float t[6][16];
  for (int r = 0; r < 6; ++r) {
    _mm256_store_ps(t[r], acc[r][0]);
    _mm256_store_ps(t[r] + 8, acc[r][1]);
  }
  for (int r = 0; r < m; ++r)
    for (int j = 0; j < n; ++j) c[r * ldc + j] = t[r][j] + (bias ? bias[j] : 0.0f);
}

}  // namespace

FGemmKernels fgemm_kernels_avx2() { return {tile_avx2, "avx2"}; }

}  // namespace edgevl

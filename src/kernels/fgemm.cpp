// The driver of the float GEMM (fgemm.h), its scalar micro-kernel and the choice of kernels.
#include "kernels/fgemm.h"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/error.h"
#include "kernels/matmul.h"
#include "kernels/row_chunks.h"

namespace edgevl {

namespace {

// Cache-line aligned buffers: a weight strip's 16 floats per k are then one line, never two.
template <typename T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(64)); }
  bool operator==(const AlignedAllocator&) const { return true; }
  bool operator!=(const AlignedAllocator&) const { return false; }
};

void tile_scalar(const float* a, const float* b, int64_t kc, float* c, int64_t ldc, int m, int n, const float* bias) {
  float acc[kFGemmMR][kFGemmNR] = {};
  for (int64_t k = 0; k < kc; ++k)
    for (int r = 0; r < kFGemmMR; ++r)
      for (int j = 0; j < kFGemmNR; ++j) acc[r][j] += a[k * kFGemmMR + r] * b[k * kFGemmNR + j];
  for (int r = 0; r < m; ++r)
    for (int j = 0; j < n; ++j) c[r * ldc + j] = acc[r][j] + (bias ? bias[j] : 0.0f);
}

// Blocking: every tile runs over the whole of K (at most kFGemmMaxK), so C is written once,
// bias included, and never read back. kNC weight rows (64 x K floats, 320 KiB at K = 1280)
// are packed at a time; kMCPanels activation panels (96 rows, 480 KiB at K = 1280) pass
// over each of their strips in turn. (Splitting K into blocks of 256-1280 to keep the
// operands in L1/L2 was slower here: each block then reads and writes C again.)
constexpr int64_t kMCPanels = 16;
constexpr int64_t kNC = 64;

// One panel of Width rows, [K][Width]: row r < count is row_of(r) (K floats), the rest zero.
template <int Width, typename RowOf>
void interleave_rows(int64_t count, int64_t K, float* out, RowOf row_of) {
  for (int r = 0; r < Width; ++r) {
    if (r >= count) {
      for (int64_t k = 0; k < K; ++k) out[k * Width + r] = 0.0f;
      continue;
    }
    const float* row = row_of(r);
    for (int64_t k = 0; k < K; ++k) out[k * Width + r] = row[k];
  }
}

// Activation rows [6p, 6p + 6) as panel p, for p in [p0, p1).
void pack_activations(const float* x, int64_t M, int64_t K, int64_t p0, int64_t p1, float* ap) {
  for (int64_t p = p0; p < p1; ++p)
    interleave_rows<kFGemmMR>(std::min<int64_t>(kFGemmMR, M - p * kFGemmMR), K, ap + p * K * kFGemmMR,
                              [&](int r) { return x + (p * kFGemmMR + r) * K; });
}

// Weight rows [n0, n0 + rows) as strips of NR rows, each row widened into tmp first.
void pack_weights(const WeightMatrix& W, int64_t n0, int64_t rows, float* bp, std::vector<float>& tmp) {
  const int64_t K = W.cols, strips = (rows + kFGemmNR - 1) / kFGemmNR;
  tmp.resize(static_cast<size_t>(K));
  for (int64_t s = 0; s < strips; ++s)
    interleave_rows<kFGemmNR>(std::min<int64_t>(kFGemmNR, rows - s * kFGemmNR), K, bp + s * K * kFGemmNR, [&](int j) {
      dequantize_row_fast(W, n0 + s * kFGemmNR + j, tmp.data());
      return static_cast<const float*>(tmp.data());
    });
}

}  // namespace

FGemmKernels fgemm_kernels_scalar() { return {tile_scalar, "scalar"}; }

const FGemmKernels* fgemm_kernels_best() {
  static const FGemmKernels* best = []() -> const FGemmKernels* {
    const char* env = std::getenv("EDGEVL_FGEMM");
    const bool forced_off = env && *env == '0', forced_on = env && *env && *env != '0';
    if (forced_off) return nullptr;
#if defined(__x86_64__)
    const auto& f = cpu_features();
    if (f.has_avx2_kernels() && (forced_on || !f.avx512f)) {
      static const FGemmKernels k = fgemm_kernels_avx2();
      return &k;
    }
#endif
    if (forced_on) {
      static const FGemmKernels k = fgemm_kernels_scalar();
      return &k;
    }
    return nullptr;
  }();
  return best;
}

void matmul_fgemm(const FGemmKernels& k, const float* x, int64_t M, const WeightMatrix& W, const float* bias, float* y,
                  ThreadPool* pool) {
  const int64_t N = W.rows, K = W.cols;
  if (M <= 0 || N <= 0) return;
  if (K > kFGemmMaxK) fail(ErrorCode::kInternal, "matmul_fgemm: row length " + std::to_string(K) + " over " + std::to_string(kFGemmMaxK));
  const int64_t panels = (M + kFGemmMR - 1) / kFGemmMR;
  // Packed once and read by every thread: each weight strip passes over all of it.
  std::vector<float, AlignedAllocator<float>> ap(static_cast<size_t>(panels * K * kFGemmMR));
  auto pack = [&](int64_t p0, int64_t p1) { pack_activations(x, M, K, p0, p1, ap.data()); };
  if (pool)
    pool->parallel_for(panels, pack);
  else
    pack(0, panels);

  for_row_chunks(pool, N, kFGemmNR, [&](int64_t c0, int64_t c1) {
    std::vector<float, AlignedAllocator<float>> bp;
    std::vector<float> tmp;
    for (int64_t n0 = c0; n0 < c1; n0 += kNC) {
      const int64_t rows = std::min(kNC, c1 - n0), strips = (rows + kFGemmNR - 1) / kFGemmNR;
      bp.resize(static_cast<size_t>(strips * K * kFGemmNR));
      pack_weights(W, n0, rows, bp.data(), tmp);
      for (int64_t p0 = 0; p0 < panels; p0 += kMCPanels) {
        const int64_t p1 = std::min(panels, p0 + kMCPanels);
        for (int64_t s = 0; s < strips; ++s) {
          const int n = static_cast<int>(std::min<int64_t>(kFGemmNR, rows - s * kFGemmNR));
          const float* b = bp.data() + s * K * kFGemmNR;
          const float* bs = bias ? bias + n0 + s * kFGemmNR : nullptr;
          for (int64_t p = p0; p < p1; ++p) {
            const int m = static_cast<int>(std::min<int64_t>(kFGemmMR, M - p * kFGemmMR));
            k.tile(ap.data() + p * K * kFGemmMR, b, K, y + p * kFGemmMR * N + n0 + s * kFGemmNR, N, m, n, bs);
          }
        }
      }
    }
  });
}

}  // namespace edgevl

#include <cstdlib>
#include "kernels/matmul.h"

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/error.h"
#include "kernels/dot.h"
#include "kernels/qdot.h"
#include "kernels/fgemm.h"
#include "kernels/gemm_blas.h"
#include "kernels/qgemm.h"
#include "kernels/quant.h"
#include "kernels/row_chunks.h"

namespace edgevl {

std::vector<DotTable> dot_tables_available() {
  std::vector<DotTable> t = {dot_table_scalar()};
#if defined(__x86_64__)
  const auto& f = cpu_features();
  if (f.has_avx2_kernels()) t.push_back(dot_table_avx2());
#endif
#if defined(__aarch64__)
  if (cpu_features().neon) t.push_back(dot_table_neon());
#endif
  return t;
}

const DotTable& dot_table_best() {
  static const DotTable t = dot_tables_available().back();
  return t;
}

// A SIMD table sets the kernels it has; every other type (and any missing tile or row
// widener) keeps the scalar reference's, so each table computes every block type.
static QDotTable with_scalar_fallbacks(QDotTable t) {
  const QDotTable s = qdot_table_scalar();
  QDotKernels QDotTable::*fields[] = {&QDotTable::q4_1, &QDotTable::q5_0, &QDotTable::q5_1, &QDotTable::q2_k,
                                      &QDotTable::q3_k, &QDotTable::q4_k, &QDotTable::q5_k, &QDotTable::q6_k};
  for (auto f : fields) {
    QDotKernels& k = t.*f;
    const QDotKernels& r = s.*f;
    if (!k.dot) k = r;  // tiles built on another table's single-row dot would mix variants
    if (!k.row) k.row = r.row;
  }
  return t;
}

std::vector<QDotTable> qdot_tables_available() {
  std::vector<QDotTable> t = {qdot_table_scalar()};
#if defined(__x86_64__)
  const auto& f = cpu_features();
  if (f.has_avx2_kernels()) {
    QDotTable a = qdot_table_avx2();
    add_kquant_kernels_avx2(&a);
    t.push_back(with_scalar_fallbacks(a));
    if (f.has_avx512vnni_kernels()) {
      QDotTable v = qdot_table_avx512();
      add_kquant_kernels_avx2(&v);
      t.push_back(with_scalar_fallbacks(v));
    }
  }
#endif
#if defined(__aarch64__)
  const auto& f = cpu_features();
  if (f.neon) {
    QDotTable n = qdot_table_neon();
    add_kquant_kernels_neon(&n);
    t.push_back(with_scalar_fallbacks(n));
  }
  if (f.neon && f.dotprod) {
    QDotTable n = qdot_table_neon_dotprod();
    add_kquant_kernels_neon_dotprod(&n);
    t.push_back(with_scalar_fallbacks(n));
  }
#endif
  return t;
}

const QDotTable& qdot_table_best() {
  static const QDotTable t = qdot_tables_available().back();
  return t;
}

namespace {

// Weight rows per tile when M > 1: the tile (8 x 1.6 KiB of Q8_0 at K = 1536) and one
// group of 4 quantized activation rows (6 KiB) fit in a 32 KiB L1 together, so every
// activation group passes over the tile from L1. (16 rows filled L1 exactly and the
// activation loads missed.)
constexpr int64_t kTileRows = 8;

// x quantized once (qdot.h), shared by every weight row and thread.
struct QuantizedActs {
  std::vector<int8_t> q;
  std::vector<float> d;  // per row: scales, then scale·sum (qdot.h)
};

QuantizedActs quantize_acts(const QDotTable& t, const float* x, int64_t M, int64_t K, ThreadPool* pool) {
  const int64_t nb = K / kQK;
  QuantizedActs a;
  a.q.resize(static_cast<size_t>(M * K));
  a.d.resize(static_cast<size_t>(M * 2 * nb));
  auto quantize_rows = [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) t.quantize(x + m * K, a.q.data() + m * K, a.d.data() + m * 2 * nb, K);
  };
  if (pool && M >= 8)
    pool->parallel_for(M, quantize_rows);
  else
    quantize_rows(0, M);
  return a;
}

QDotKernels checked_kernels(const QDotTable& t, const WeightMatrix& W) {
  if (W.cols % dtype_block_size(W.type) != 0)
    fail(ErrorCode::kInvalidArgument, "matmul: row length " + std::to_string(W.cols) + " is not a multiple of the " +
                                          dtype_name(W.type) + " block size");
  const QDotKernels k = t.for_type(W.type);
  if (!k.dot) fail(ErrorCode::kUnsupported, std::string("matmul: no integer kernel for weight type ") + dtype_name(W.type));
  return k;
}

// Weight rows [n0, n1) of W against all M quantized activation rows.
void quant_rows(const QDotKernels& kern, const QuantizedActs& a, int64_t M, const WeightMatrix& W, const float* bias, float* y,
                int64_t n0, int64_t n1) {
  const int64_t N = W.rows, K = W.cols, nb = K / kQK;
  const int8_t* aq = a.q.data();
  const float* ad = a.d.data();
  for (int64_t t0 = n0; t0 < n1; t0 += kTileRows) {
    const int64_t t1 = std::min(n1, t0 + kTileRows);
    int64_t m = 0;
    for (; kern.x4 && m + 4 <= M; m += 4) {
      int64_t n = t0;
      if (kern.x2x4)
        for (; n + 2 <= t1; n += 2) {
          float out[8];
          kern.x2x4(W.row(n), static_cast<int64_t>(W.row_bytes), aq + m * K, K, ad + m * 2 * nb, 2 * nb, nb, out);
          for (int i = 0; i < 2; ++i) {
            const float b = bias ? bias[n + i] : 0.0f;
            for (int r = 0; r < 4; ++r) y[(m + r) * N + n + i] = out[i * 4 + r] + b;
          }
        }
      for (; n < t1; ++n) {
        float out[4];
        kern.x4(W.row(n), aq + m * K, K, ad + m * 2 * nb, 2 * nb, nb, out);
        const float b = bias ? bias[n] : 0.0f;
        for (int r = 0; r < 4; ++r) y[(m + r) * N + n] = out[r] + b;
      }
    }
    for (; m < M; ++m) {
      const int8_t* q = aq + m * K;
      const float* d = ad + m * 2 * nb;
      for (int64_t n = t0; n < t1; ++n) y[m * N + n] = kern.dot(W.row(n), q, d, nb) + (bias ? bias[n] : 0.0f);
    }
  }
}

void matmul_quant_with(const QDotTable& t, const float* x, int64_t M, const WeightMatrix& W, const float* bias, float* y,
                       ThreadPool* pool) {
  const QDotKernels kern = checked_kernels(t, W);
  const QuantizedActs a = quantize_acts(t, x, M, W.cols, pool);
  for_row_chunks(pool, W.rows, kTileRows, [&](int64_t n0, int64_t n1) { quant_rows(kern, a, M, W, bias, y, n0, n1); });
}

}  // namespace

void dequantize_row_fast(const WeightMatrix& W, int64_t r, float* out) {
  const DotTable& t = dot_table_best();
  if (W.type == DType::F16 && t.f16_row) return t.f16_row(W.row(r), out, W.cols);
  if (W.type == DType::BF16 && t.bf16_row) return t.bf16_row(W.row(r), out, W.cols);
  if (dtype_is_block_quant(W.type) && W.cols % dtype_block_size(W.type) == 0) {
    const QRowToF32Fn row = qdot_table_best().for_type(W.type).row;
    if (row) return row(W.row(r), out, W.cols);
  }
  dequantize_row(W, r, out);
}

void matmul_quant_reference(const float* x, int64_t M, const WeightMatrix& W, const float* bias, float* y) {
  if (!dtype_is_block_quant(W.type))
    fail(ErrorCode::kInvalidArgument, std::string("matmul_quant_reference: weight type ") + dtype_name(W.type) + " is not block-quantized");
  const QDotTable t = qdot_table_scalar();
  matmul_quant_with(t, x, M, W, bias, y, nullptr);
}

// EDGEVL_NO_GEMM=1 keeps prefill on the built-in kernels (A/B checks).
static bool gemm_disabled() {
  static const bool off = [] {
    const char* v = std::getenv("EDGEVL_NO_GEMM");
    return v && *v && *v != '0';
  }();
  return off;
}

// Long prefills on block-quantized weights go to sgemm on widened f32 panels unless the CPU
// has kernels that beat it: the int8 GEMM (qgemm.h, checked first in matmul() for Q8_0 and
// Q4_0) or an int8 dot-product instruction (ARM dotprod: 4x the multiply-adds of an f32
// FMA per instruction) for the 2x4 row tiles. The AVX2 2x4 row tiles alone were no faster
// than sgemm (2B q4_0 pp196 on a Zen 3 VM: ~44 vs ~49 tok/s, q8_0 ~39 vs ~44); the other
// block types keep sgemm there. Decode (M = 1) always stays on the int8 row kernels.
static bool quantized_prefill_via_gemm() {
#if defined(__aarch64__)
  return !cpu_features().dotprod;
#else
  return true;
#endif
}
constexpr int64_t kQuantGemmMinRows = 32;

// EDGEVL_NO_QGEMM=1 keeps Q8_0/Q4_0 prefill off the integer GEMM (A/B checks).
static bool qgemm_disabled() {
  static const bool off = [] {
    const char* v = std::getenv("EDGEVL_NO_QGEMM");
    return v && *v && *v != '0';
  }();
  return off;
}
// From 32 rows the per-call packing is paid back: at M = 16 (1536 x 1536, Zen 3, one
// thread) the GEMM tied the 2x4 row tiles on Q4_0 and was ~20% slower on Q8_0.
constexpr int64_t kQGemmMinRows = 32;

// EDGEVL_NO_FUSE=1 runs matmul_same_input's products one by one (A/B checks).
static bool fuse_disabled() {
  static const bool off = [] {
    const char* v = std::getenv("EDGEVL_NO_FUSE");
    return v && *v && *v != '0';
  }();
  return off;
}

void matmul_same_input(const float* x, int64_t M, std::initializer_list<MatmulTarget> targets, ThreadPool& pool) {
  if (targets.size() == 0) return;
  const MatmulTarget* first = targets.begin();
  // Below kQGemmMinRows rows, matmul() runs block-quantized weights on exactly these row
  // kernels (matmul_quant_with), which is what makes the shared region bit-identical to it.
  bool fuse = M < kQGemmMinRows && targets.size() > 1 && dtype_is_block_quant(first->W->type) && !fuse_disabled();
  int64_t total = 0;
  for (const MatmulTarget& t : targets) {
    fuse = fuse && t.W->type == first->W->type && t.W->cols == first->W->cols;
    total += t.W->rows;
  }
  if (!fuse) {
    for (const MatmulTarget& t : targets) matmul(x, M, *t.W, t.bias, t.y, pool);
    return;
  }
  const QDotTable& table = qdot_table_best();
  const QDotKernels kern = checked_kernels(table, *first->W);
  const QuantizedActs a = quantize_acts(table, x, M, first->W->cols, &pool);
  // One region over the rows of all the matrices, one after another.
  for_row_chunks(&pool, total, kTileRows, [&](int64_t r0, int64_t r1) {
    int64_t base = 0;
    for (const MatmulTarget& t : targets) {
      const int64_t b = std::max(r0, base), e = std::min(r1, base + t.W->rows);
      if (b < e) quant_rows(kern, a, M, *t.W, t.bias, t.y, b - base, e - base);
      base += t.W->rows;
    }
  });
}

void matmul(const float* x, int64_t M, const WeightMatrix& W, const float* bias, float* y, ThreadPool& pool) {
  // Prefill on Q8_0/Q4_0: integer GEMM on repacked weight groups where the CPU has one.
  if (M >= kQGemmMinRows && !qgemm_disabled()) {
    const QGemmTable* g = qgemm_table_best();
    const QGemmKernels k = g ? g->for_type(W.type) : QGemmKernels{};
    if (k.panel && W.cols % kQK == 0) {
      matmul_qgemm(k, qdot_table_best().quantize, x, M, W, bias, y, &pool);
      return;
    }
  }
  // Many rows (prefill, vision): compute-bound. Our own f32 GEMM where it beats OpenBLAS
  // (fgemm.h: AVX2 without AVX-512, rows up to kFGemmMaxK long), else sgemm on f32 panels.
  if (M >= kGemmMinRows && dtype_is_float(W.type) && !gemm_disabled()) {
    const FGemmKernels* fk = fgemm_kernels_best();
    if (fk && W.cols <= kFGemmMaxK) {
      matmul_fgemm(*fk, x, M, W, bias, y, &pool);
      return;
    }
    if (matmul_gemm(x, M, W, bias, y, pool)) return;
  }
  if (M >= kQuantGemmMinRows && dtype_is_block_quant(W.type) && W.cols % dtype_block_size(W.type) == 0 && quantized_prefill_via_gemm() &&
      !gemm_disabled() && matmul_gemm(x, M, W, bias, y, pool))
    return;
  if (dtype_is_block_quant(W.type)) {
    matmul_quant_with(qdot_table_best(), x, M, W, bias, y, &pool);
    return;
  }
  DotFn dot = dot_table_best().for_type(W.type);
  Dot4Fn dot4 = dot_table_best().x4_for_type(W.type);
  if (!dot) fail(ErrorCode::kUnsupported, std::string("matmul: weight type ") + dtype_name(W.type) + " not supported");
  const int64_t N = W.rows, K = W.cols;
  // Activations are walked in blocks of rows that stay in L2 while every weight row of this
  // thread's share passes over them; inside a block, 4 rows share each weight load.
  const int64_t mb = std::max<int64_t>(1, std::min<int64_t>(M, (256 * 1024) / std::max<int64_t>(1, K * 4)));
  for_row_chunks(&pool, N, 16, [&](int64_t n0, int64_t n1) {
    for (int64_t m0 = 0; m0 < M; m0 += mb) {
      const int64_t m1 = std::min(M, m0 + mb);
      for (int64_t n = n0; n < n1; ++n) {
        const uint8_t* w = W.row(n);
        const float b = bias ? bias[n] : 0.0f;
        int64_t m = m0;
        if (dot4)
          for (; m + 4 <= m1; m += 4) {
            float out[4];
            dot4(x + m * K, K, w, K, out);
            for (int r = 0; r < 4; ++r) y[(m + r) * N + n] = out[r] + b;
          }
        for (; m < m1; ++m) y[m * N + n] = dot(x + m * K, w, K) + b;
      }
    }
  });
}

}  // namespace edgevl

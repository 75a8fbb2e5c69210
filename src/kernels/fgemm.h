// Prefill and the vision tower on float weights (f32/f16/bf16, or any type through its row
// widener) as our own f32 GEMM: y[M][N] = x[M][K] · W[N][K]ᵀ (+ bias).
//
// Why not only OpenBLAS's sgemm: on the FMA-bound AVX2 encode (docs/performance_notes.md)
// a sgemm call first needs the weights widened to an f32 panel, then packs that panel and
// the activations again, zeroes C, and the bias is a further pass: together about a fifth
// of the encode. Here the activations are packed once per call for every thread, each
// weight row is widened straight into the packed layout, and the micro-kernel writes
// C = acc + bias once, after the whole of K.
//
// Layout (BLIS-style): activation panels of kFGemmMR rows, [K][MR] floats each (rows past M
// are zero); weight strips of kFGemmNR rows, [K][NR] floats each (rows past N are zero). The
// micro-kernel multiplies one activation panel by one weight strip over kc elements of K.
#pragma once
#include <cstdint>

#include "core/thread_pool.h"
#include "kernels/weight_matrix.h"

namespace edgevl {

constexpr int kFGemmMR = 6;   // activation rows per micro-tile
constexpr int kFGemmNR = 16;  // weight rows (output columns) per micro-tile

// C[r·ldc + j] (r < m, j < n) = Σ_k a[k·MR + r]·b[k·NR + j] over k < kc (+ bias[j] when set).
using FGemmTileFn = void (*)(const float* a, const float* b, int64_t kc, float* c, int64_t ldc, int m, int n, const float* bias);

// Longest rows (K) this GEMM takes: each tile runs over the whole of K in registers, and
// its operand strips stop fitting the caches beyond this (the vision tower's fc2, K = 5120,
// ran 10-15% slower than OpenBLAS), so longer rows stay on sgemm.
constexpr int64_t kFGemmMaxK = 1536;

struct FGemmKernels {
  FGemmTileFn tile = nullptr;
  const char* name = "";
};

FGemmKernels fgemm_kernels_scalar();
#if defined(__x86_64__)
FGemmKernels fgemm_kernels_avx2();  // needs avx2+fma
#endif
// The GEMM matmul() uses for float weights on this CPU, or null to keep OpenBLAS's sgemm:
// CPUs with AVX-512 (OpenBLAS may run 512-bit kernels there, and ours was not measured on
// one) and non-x86 CPUs.
// EDGEVL_FGEMM=0 forces sgemm and EDGEVL_FGEMM=1 forces ours (A/B checks).
const FGemmKernels* fgemm_kernels_best();

// y = x·Wᵀ (+ bias) with kernels k; W of any type dequantize_row_fast reads, W.cols <= kFGemmMaxK.
void matmul_fgemm(const FGemmKernels& k, const float* x, int64_t M, const WeightMatrix& W, const float* bias, float* y,
                  ThreadPool* pool);

}  // namespace edgevl

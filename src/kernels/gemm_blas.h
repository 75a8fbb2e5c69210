// Prefill and the vision tower are compute-bound matrix-matrix products: with float
// weights (f32/f16/bf16) and OpenBLAS (Debian's libopenblas-dev) available, they go
// through its sgemm on f32 panels of the weights, converted a panel at a time. Decode
// (one row) and block-quantized weights keep the kernels of matmul.cpp.
#pragma once
#include <cstdint>

#include "core/thread_pool.h"
#include "kernels/weight_matrix.h"

namespace edgevl {

// Rows of activations from which the sgemm path is used.
constexpr int64_t kGemmMinRows = 16;

// y = x·Wᵀ (+ bias) through sgemm; returns false when BLAS is not built in.
bool matmul_gemm(const float* x, int64_t M, const WeightMatrix& W, const float* bias, float* y, ThreadPool& pool);

// "OpenBLAS <core>" (the kernel set OpenBLAS chose for this CPU at load, e.g. Haswell,
// SkylakeX, Cooperlake: what the float GEMM runs on), or "none" when BLAS is not built in.
const char* blas_name();

// Whether sgemm_tile and matmul_gemm do anything (BLAS built in).
bool sgemm_available();

// One single-threaded row-major sgemm on the calling thread (for tiles the caller's
// pool hands out): C = alpha·A·op(B) + beta·C, op(B) = Bᵀ when trans_b. Returns false
// (and does nothing) when BLAS is not built in.
bool sgemm_tile(bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
                float beta, float* C, int64_t ldc);

}  // namespace edgevl

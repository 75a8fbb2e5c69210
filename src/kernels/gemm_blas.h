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
bool gemm_available();

struct AttentionArgs;
// Attention for many query rows as two sgemms per head (scores = Q·Kᵀ, out = P·V)
// with the softmax and causal mask in between; returns false when BLAS is not built in.
bool attention_gemm(const AttentionArgs& a, ThreadPool& pool);

}  // namespace edgevl

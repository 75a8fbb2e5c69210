// Dense layers: y[M][N] = x[M][K] · W[N][K]ᵀ (+ bias[N]).
// One entry point; the element type of W and the CPU pick the implementation.
#pragma once
#include <cstdint>
#include <initializer_list>

#include "core/thread_pool.h"
#include "kernels/weight_matrix.h"

namespace edgevl {

// x rows are contiguous with stride K; y rows with stride N. bias may be null.
void matmul(const float* x, int64_t M, const WeightMatrix& W, const float* bias, float* y, ThreadPool& pool);

// Several products of the same x (Q/K/V, gate/up): y_i = x·W_iᵀ (+ bias_i). For decode and
// short prompts on block-quantized weights of one type and row length, x is quantized once
// and the rows of all the matrices are shared out in one parallel region (one barrier
// instead of one per matrix); otherwise it is one matmul() each. Same results either way.
struct MatmulTarget {
  const WeightMatrix* W;
  const float* bias;  // may be null
  float* y;
};
void matmul_same_input(const float* x, int64_t M, std::initializer_list<MatmulTarget> targets, ThreadPool& pool);

// The scalar reference, used by tests to check every SIMD variant: f32 activations times
// the dequantized weights, accumulated in double.
void matmul_reference(const float* x, int64_t M, const WeightMatrix& W, const float* bias, float* y);

// Q8_0 / Q4_0 weights are multiplied as llama.cpp does: each activation row is quantized
// once to int8 blocks (qdot.h) and dotted in integers. This is the scalar reference of
// exactly that algorithm (same activation quantization), which the SIMD paths must match
// to float rounding; it differs from matmul_reference by the activation quantization error.
// Long prefills (M >= 32) on Q8_0/Q4_0 run the same algorithm as an int8 GEMM (qgemm.h)
// where the CPU has one (AVX2); where it has neither that nor an int8 dot-product
// instruction, long prefills (M >= 32) go to sgemm on widened weights and match
// matmul_reference instead.
void matmul_quant_reference(const float* x, int64_t M, const WeightMatrix& W, const float* bias, float* y);

// Dot product of one f32 vector with row r of W (n = W.cols), reference and dispatched.
float dot_row_reference(const float* x, const WeightMatrix& W, int64_t r);

// Copies row r of W out as f32 (embedding lookup); works for every type. The scalar
// reference; dequantize_row_fast gives the same values with the CPU's best kernels.
void dequantize_row(const WeightMatrix& W, int64_t r, float* out);
void dequantize_row_fast(const WeightMatrix& W, int64_t r, float* out);

}  // namespace edgevl

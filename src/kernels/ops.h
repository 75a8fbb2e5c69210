// Element-wise and row-wise operations on f32 activations. Plain loops the compiler
// vectorises, with exp from vexp.h; none of this is model-specific.
#pragma once
#include <cstdint>

namespace edgevl {

// out[i] = x[i] / sqrt(mean(x²) + eps) * w[i], for each of `rows` rows of n.
void rmsnorm(const float* x, const float* w, float* out, int64_t rows, int64_t n, float eps);
// out = (x - mean) / sqrt(var + eps) * w + b (b may be null).
void layernorm(const float* x, const float* w, const float* b, float* out, int64_t rows, int64_t n, float eps);

void silu_inplace(float* x, int64_t n);
void gelu_erf_inplace(float* x, int64_t n);    // exact GELU: x·Φ(x)
void quick_gelu_inplace(float* x, int64_t n);  // x·sigmoid(1.702x)
// gate[i] = silu(gate[i]) * up[i]
void swiglu_inplace(float* gate, const float* up, int64_t n);
void add_inplace(float* x, const float* y, int64_t n);

}  // namespace edgevl

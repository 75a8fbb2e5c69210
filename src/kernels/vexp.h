// exp over arrays, the one transcendental on the hot paths (softmax in attention, SiLU,
// QuickGELU). The scalar reference calls std::exp; the SIMD variants reduce x = n·ln2 + r
// with |r| ≤ ln2/2, evaluate a degree-6 polynomial for e^r and scale by 2^n through the
// exponent bits: within 2 ulp of std::exp for normal results, 0 below -87.3 (the f32 normal
// range; softmax feeds -inf there), +inf above 88.7.
#pragma once
#include <cstdint>
#include <vector>

namespace edgevl {

// y[i] = exp(x[i] - shift); returns the sum of the y (softmax denominators). x == y allowed.
using ExpFn = float (*)(const float* x, float* y, int64_t n, float shift);

struct ExpTable {
  ExpFn exp = nullptr;
  const char* name = "";
};

ExpTable exp_table_scalar();
#if defined(__x86_64__)
ExpTable exp_table_avx2();  // needs avx2+fma
#endif
#if defined(__aarch64__)
ExpTable exp_table_neon();
#endif

// Every table the running CPU can execute, scalar first; and the fastest of them.
std::vector<ExpTable> exp_tables_available();
const ExpTable& exp_table_best();

// Shorthand for exp_table_best().exp.
inline float vec_exp(const float* x, float* y, int64_t n, float shift = 0.0f) { return exp_table_best().exp(x, y, n, shift); }

}  // namespace edgevl

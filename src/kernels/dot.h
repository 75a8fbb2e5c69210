// Row dot products f32·W[row] for each float weight type, in scalar and SIMD variants.
// matmul.cpp picks a table once from the CPU features.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace edgevl {

using DotFn = float (*)(const float* x, const uint8_t* w, int64_t k);
// Four activation rows (x_stride floats apart) against one weight row: each weight vector is
// loaded and widened once for four FMAs (prefill, vision tower).
using Dot4Fn = void (*)(const float* x, int64_t x_stride, const uint8_t* w, int64_t k, float* out4);
// Widens k elements of a weight row to f32 (the panels handed to sgemm).
using RowToF32Fn = void (*)(const uint8_t* w, float* out, int64_t k);
// y[i] += a·w[i] for i < k (attention's weighted sum of value rows, which may be f16).
using AxpyFn = void (*)(float a, const uint8_t* w, float* y, int64_t k);

struct DotTable {
  DotFn f32 = nullptr, f16 = nullptr, bf16 = nullptr;
  const char* name = "";
  Dot4Fn f32_x4 = nullptr, f16_x4 = nullptr, bf16_x4 = nullptr;
  RowToF32Fn f16_row = nullptr, bf16_row = nullptr;
  AxpyFn f32_axpy = nullptr, f16_axpy = nullptr;
  DotFn for_type(DType t) const;
  Dot4Fn x4_for_type(DType t) const;
};

DotTable dot_table_scalar();
#if defined(__x86_64__)
DotTable dot_table_avx2();  // needs avx2+fma+f16c
#endif
#if defined(__aarch64__)
DotTable dot_table_neon();
#endif

const DotTable& dot_table_best();  // the fastest the running CPU supports
// Every table the running CPU can execute, scalar first (for tests and benchmarks).
std::vector<DotTable> dot_tables_available();

}  // namespace edgevl

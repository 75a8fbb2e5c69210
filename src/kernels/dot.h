// Row dot products f32·W[row] for each float weight type, in scalar and SIMD variants.
// matmul.cpp picks a table once from the CPU features.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace edgevl {

using DotFn = float (*)(const float* x, const uint8_t* w, int64_t k);

struct DotTable {
  DotFn f32 = nullptr, f16 = nullptr, bf16 = nullptr;
  const char* name = "";
  DotFn for_type(DType t) const;
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

// A weight matrix as kernels see it: W[rows][cols] of some element type, row-major,
// usually pointing into a mapped model file. y = x·Wᵀ, so rows = output features.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace edgevl {

struct WeightMatrix {
  DType type = DType::F32;
  int64_t rows = 0;  // output features (N)
  int64_t cols = 0;  // input features (K)
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;  // stride between rows

  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes; }
  size_t total_bytes() const { return static_cast<size_t>(rows) * row_bytes; }
};

}  // namespace edgevl

// Shared helpers for the kernel tests: seeded random data and quantized weight matrices.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "kernels/quant.h"
#include "kernels/weight_matrix.h"

namespace edgevl_test {

// n normal(0, scale) floats, the same for the same seed.
inline std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

// rows x cols f32 weights quantized row by row to Q8_0 or Q4_0.
inline std::vector<uint8_t> quantize_weights(edgevl::DType t, const std::vector<float>& w, int64_t rows, int64_t cols) {
  const size_t rb = edgevl::dtype_row_bytes(t, cols);
  std::vector<uint8_t> out(rb * rows);
  for (int64_t r = 0; r < rows; ++r) {
    if (t == edgevl::DType::Q8_0) edgevl::quantize_q8_0(w.data() + r * cols, out.data() + r * rb, cols);
    if (t == edgevl::DType::Q4_0) edgevl::quantize_q4_0(w.data() + r * cols, out.data() + r * rb, cols);
  }
  return out;
}

// A WeightMatrix over bytes b holding rows x cols elements of type t.
inline edgevl::WeightMatrix view(edgevl::DType t, const std::vector<uint8_t>& b, int64_t rows, int64_t cols) {
  edgevl::WeightMatrix W;
  W.type = t;
  W.rows = rows;
  W.cols = cols;
  W.row_bytes = edgevl::dtype_row_bytes(t, cols);
  W.data = b.data();
  return W;
}

}  // namespace edgevl_test

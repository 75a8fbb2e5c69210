// Shared helpers for the kernel tests: seeded random data and quantized weight matrices.
#pragma once
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/fp16.h"
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

// Stores f32 values as the given type; returns the bytes and a matrix view.
struct OwnedMatrix {
  std::vector<uint8_t> bytes;
  edgevl::WeightMatrix W;
};

inline OwnedMatrix make_matrix(edgevl::DType t, int64_t rows, int64_t cols, const std::vector<float>& v) {
  OwnedMatrix m;
  m.W.type = t;
  m.W.rows = rows;
  m.W.cols = cols;
  m.W.row_bytes = edgevl::dtype_row_bytes(t, cols);
  m.bytes.resize(m.W.row_bytes * rows);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* dst = m.bytes.data() + r * m.W.row_bytes;
    const float* src = v.data() + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      if (t == edgevl::DType::F32) std::memcpy(dst + 4 * c, &src[c], 4);
      if (t == edgevl::DType::F16) {
        uint16_t h = edgevl::f32_to_f16(src[c]);
        std::memcpy(dst + 2 * c, &h, 2);
      }
      if (t == edgevl::DType::BF16) {
        uint16_t h = edgevl::f32_to_bf16(src[c]);
        std::memcpy(dst + 2 * c, &h, 2);
      }
    }
    if (t == edgevl::DType::Q8_0) edgevl::quantize_q8_0(src, dst, cols);
    if (t == edgevl::DType::Q4_0) edgevl::quantize_q4_0(src, dst, cols);
  }
  m.W.data = m.bytes.data();
  return m;
}

}  // namespace edgevl_test

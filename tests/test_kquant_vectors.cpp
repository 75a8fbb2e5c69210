// Bit-exactness against ggml: tests/data/kquants holds blocks quantized by ggml and ggml's
// own dequantization of them (see its README for the llama.cpp commit). Our scalar
// dequantizers and every kernel table's row widener must reproduce those floats exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/qdot.h"

using namespace edgevl;

namespace {

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::string data_dir() { return std::string(EDGEVL_SOURCE_DIR) + "/tests/data/kquants/"; }

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

}  // namespace

TEST(KQuantVectors, ScalarAndSimdDequantizationEqualGgmlBitForBit) {
  const DType types[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                         DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};
  const int64_t rows = 4, cols = 512;
  for (DType t : types) {
    const std::string name = dtype_name(t);
    const auto blocks = read_all(data_dir() + name + ".blocks");
    const auto ref = read_all(data_dir() + name + ".f32");
    ASSERT_EQ(blocks.size(), dtype_row_bytes(t, cols) * rows) << name << ": missing or wrong-sized " << data_dir() << name << ".blocks";
    ASSERT_EQ(ref.size(), rows * cols * sizeof(float)) << name;
    std::vector<float> want(rows * cols);
    std::memcpy(want.data(), ref.data(), ref.size());
    WeightMatrix W;
    W.type = t;
    W.rows = rows;
    W.cols = cols;
    W.row_bytes = dtype_row_bytes(t, cols);
    W.data = blocks.data();
    std::vector<float> got(cols);
    for (int64_t r = 0; r < rows; ++r) {
      dequantize_row(W, r, got.data());
      for (int64_t c = 0; c < cols; ++c)
        ASSERT_EQ(bits(got[c]), bits(want[r * cols + c])) << name << " scalar row " << r << " col " << c << ": " << got[c] << " vs ggml "
                                                          << want[r * cols + c];
      for (const auto& tab : qdot_tables_available()) {
        const QRowToF32Fn row = tab.for_type(t).row;
        ASSERT_NE(row, nullptr) << tab.name << " " << name;
        std::fill(got.begin(), got.end(), NAN);
        row(W.row(r), got.data(), cols);
        for (int64_t c = 0; c < cols; ++c)
          ASSERT_EQ(bits(got[c]), bits(want[r * cols + c])) << tab.name << " " << name << " row " << r << " col " << c;
      }
    }
  }
}

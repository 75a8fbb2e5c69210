// NumPy .npy (v1/v2, little-endian, C order) reader: golden fixtures and debugging dumps.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace edgevl {

struct NpyArray {
  std::string dtype;  // numpy descr, e.g. "<f4", "<i8", "|u1"
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  int64_t numel() const;
  std::vector<float> as_f32() const;      // from <f4 / <f8
  std::vector<int64_t> as_i64() const;    // from <i8 / <i4 / |u1
  std::vector<uint8_t> as_u8() const;     // from |u1
};

NpyArray load_npy(const std::string& path);  // throws Error naming the path
void save_npy_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape);

}  // namespace edgevl

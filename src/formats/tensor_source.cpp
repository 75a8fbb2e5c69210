#include "formats/tensor_source.h"

#include <cstring>

#include "core/error.h"
#include "core/fp16.h"

namespace edgevl {

int64_t TensorRef::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string TensorRef::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

const TensorRef& TensorSource::get(const std::string& name, const std::vector<int64_t>& expected) const {
  const TensorRef* t = find(name);
  if (!t) fail_format(description() + ": missing tensor '" + name + "'");
  if (!expected.empty() && t->shape != expected) {
    TensorRef e;
    e.shape = expected;
    fail_format(description() + ": tensor '" + name + "' has shape " + t->shape_str() + ", expected " + e.shape_str());
  }
  return *t;
}

std::vector<float> tensor_to_f32(const TensorRef& t) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  const size_t n = out.size();
  switch (t.dtype) {
    case DType::F32:
      std::memcpy(out.data(), t.data, n * 4);
      break;
    case DType::F16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        out[i] = f16_to_f32(h);
      }
      break;
    case DType::BF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        out[i] = bf16_to_f32(h);
      }
      break;
    default:
      fail_format(t.file + ": tensor '" + t.name + "' has type " + dtype_name(t.dtype) + ", expected a float type");
  }
  return out;
}

WeightMatrix matrix_of(const TensorRef& t) {
  if (t.shape.size() < 2) fail_format(t.file + ": tensor '" + t.name + "' is not a matrix (shape " + t.shape_str() + ")");
  WeightMatrix w;
  w.type = t.dtype;
  w.rows = t.shape[0];
  w.cols = 1;
  for (size_t i = 1; i < t.shape.size(); ++i) w.cols *= t.shape[i];
  if (w.cols % dtype_block_size(t.dtype) != 0)
    fail_format(t.file + ": tensor '" + t.name + "' row length is not a multiple of its block size");
  w.row_bytes = dtype_row_bytes(t.dtype, w.cols);
  if (w.row_bytes * static_cast<size_t>(w.rows) != t.nbytes)
    fail_format(t.file + ": tensor '" + t.name + "' byte size does not match its shape");
  w.data = t.data;
  return w;
}

}  // namespace edgevl

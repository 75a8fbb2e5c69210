// A read-only set of named tensors living in mapped files (safetensors or GGUF).
// Models ask for tensors by their Hugging Face names and check shapes on the spot,
// so a wrong or truncated file fails at load with the tensor's name, never later.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kernels/weight_matrix.h"

namespace edgevl {

struct TensorRef {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // outermost first (row-major, as PyTorch)
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  std::string file;  // where it lives, for messages

  int64_t numel() const;
  std::string shape_str() const;  // "[64, 32]"
};

class TensorSource {
 public:
  virtual ~TensorSource() = default;
  virtual const TensorRef* find(const std::string& name) const = 0;
  virtual std::vector<std::string> names() const = 0;
  virtual std::string description() const = 0;  // e.g. the directory, for messages

  bool has(const std::string& name) const { return find(name) != nullptr; }
  // Throws kFormat naming the tensor and source if missing or (when given) of another shape.
  const TensorRef& get(const std::string& name, const std::vector<int64_t>& expected_shape = {}) const;
};

// Any float tensor (F32/F16/BF16) copied out as f32: norms, biases, small tables.
std::vector<float> tensor_to_f32(const TensorRef& t);

// A tensor of 2 or more dims as a weight matrix: rows = shape[0], cols = the product
// of the rest (a Conv3d patch kernel [out, c, t, h, w] becomes [out, c*t*h*w]).
WeightMatrix matrix_of(const TensorRef& t);

}  // namespace edgevl

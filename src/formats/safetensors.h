// safetensors reader: a u64 header length, a JSON header of {name: {dtype, shape,
// data_offsets}}, then the raw data. Single files and sharded checkpoints
// (model.safetensors.index.json) are both mapped, never copied.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mmap_file.h"
#include "formats/tensor_source.h"

namespace edgevl {

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);  // validates header and every offset
  const std::map<std::string, TensorRef>& tensors() const { return tensors_; }
  const std::string& path() const { return file_.path(); }

 private:
  MappedFile file_;
  std::map<std::string, TensorRef> tensors_;
};

// All tensors of a HF model directory: model.safetensors, or the shards listed by
// model.safetensors.index.json.
class SafetensorsModel : public TensorSource {
 public:
  explicit SafetensorsModel(const std::string& dir);
  const TensorRef* find(const std::string& name) const override;
  std::vector<std::string> names() const override;
  std::string description() const override { return dir_; }

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorRef*> index_;
};

}  // namespace edgevl

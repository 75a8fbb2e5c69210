// Per-layer key/value storage for one conversation. Keys are stored already rotated
// (RoPE applied), so decode reads them as they are. Each cell also records its 3-D
// M-RoPE position, where it came from (text or image) and its turn: enough to evict
// whole turns (the session then recomputes what followed them at their new positions).
//
// Rows are f32 or f16 (KvType): f16 halves the cache's memory and what attention reads per
// token, for a rounding of each key and value to 11 significant bits (llama.cpp's default).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace edgevl {

enum class CellSource : uint8_t { Text = 0, Image = 1 };

struct KvCell {
  std::array<int32_t, 3> pos{};  // temporal, height, width
  CellSource source = CellSource::Text;
  int32_t turn = 0;
};

enum class KvType : uint8_t { F32, F16 };
const char* kv_type_name(KvType t);  // "f32", "f16"
// "f32" or "f16"; throws kInvalidArgument naming the value otherwise.
KvType parse_kv_type(const std::string& name);

class KvCache {
 public:
  KvCache() = default;
  KvCache(int n_layers, int64_t capacity, int kv_dim, KvType type = KvType::F32);

  int64_t capacity() const { return capacity_; }
  int64_t size() const { return static_cast<int64_t>(cells_.size()); }
  int kv_dim() const { return kv_dim_; }
  int n_layers() const { return n_layers_; }
  KvType type() const { return type_; }
  DType dtype() const { return type_ == KvType::F16 ? DType::F16 : DType::F32; }
  size_t bytes() const { return k_.size() * 2; }
  size_t row_bytes() const { return static_cast<size_t>(kv_dim_) * (type_ == KvType::F16 ? 2 : 4); }

  // Layer l's rows [0, capacity), row_bytes() apart, of dtype().
  const uint8_t* k(int layer) const { return k_.data() + layer_offset(layer); }
  const uint8_t* v(int layer) const { return v_.data() + layer_offset(layer); }

  // Stores n rows of keys and values (kv_dim floats each) at rows [row, row + n) of layer l.
  void write(int layer, int64_t row, int64_t n, const float* k, const float* v);

  const std::vector<KvCell>& cells() const { return cells_; }
  // Marks n rows after size() as filled (their K/V were written by the decoder).
  void commit(const KvCell* cells, int64_t n);
  // Drops everything from cell `from` on (rows stay allocated).
  void truncate(int64_t from);
  // Removes cells [begin, end) and moves the rest down; K/V rows move with them.
  void erase(int64_t begin, int64_t end);
  void clear() { cells_.clear(); }

 private:
  size_t layer_offset(int layer) const { return static_cast<size_t>(layer) * capacity_ * row_bytes(); }
  void store_rows(uint8_t* dst, const float* src, int64_t n) const;

  int n_layers_ = 0;
  int64_t capacity_ = 0;
  int kv_dim_ = 0;
  KvType type_ = KvType::F32;
  std::vector<uint8_t> k_, v_;
  std::vector<KvCell> cells_;
};

}  // namespace edgevl

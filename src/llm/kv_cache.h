// Per-layer key/value storage for one conversation. Keys are stored already rotated
// (RoPE applied), so decode reads them as they are. Each cell also records its 3-D
// M-RoPE position, where it came from (text or image) and its turn: enough to evict
// whole turns and re-rotate what stays (context shift under M-RoPE).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace edgevl {

enum class CellSource : uint8_t { Text = 0, Image = 1 };

struct KvCell {
  std::array<int32_t, 3> pos{};  // temporal, height, width
  CellSource source = CellSource::Text;
  int32_t turn = 0;
};

class KvCache {
 public:
  KvCache() = default;
  KvCache(int n_layers, int64_t capacity, int kv_dim);

  int64_t capacity() const { return capacity_; }
  int64_t size() const { return static_cast<int64_t>(cells_.size()); }
  int kv_dim() const { return kv_dim_; }
  int n_layers() const { return n_layers_; }
  size_t bytes() const { return k_.size() * sizeof(float) * 2; }

  float* k(int layer) { return k_.data() + static_cast<size_t>(layer) * capacity_ * kv_dim_; }
  float* v(int layer) { return v_.data() + static_cast<size_t>(layer) * capacity_ * kv_dim_; }
  const float* k(int layer) const { return k_.data() + static_cast<size_t>(layer) * capacity_ * kv_dim_; }
  const float* v(int layer) const { return v_.data() + static_cast<size_t>(layer) * capacity_ * kv_dim_; }

  const std::vector<KvCell>& cells() const { return cells_; }
  // Marks n rows after size() as filled (their K/V were written by the decoder).
  void commit(const KvCell* cells, int64_t n);
  // Drops everything from cell `from` on (rows stay allocated).
  void truncate(int64_t from);
  // Removes cells [begin, end) and moves the rest down; K/V rows move with them.
  void erase(int64_t begin, int64_t end);
  void clear() { cells_.clear(); }

 private:
  int n_layers_ = 0;
  int64_t capacity_ = 0;
  int kv_dim_ = 0;
  std::vector<float> k_, v_;
  std::vector<KvCell> cells_;
};

}  // namespace edgevl

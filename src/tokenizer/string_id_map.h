// A flat open-addressing hash map from strings to token ids, used while loading to
// resolve ~450k merge halves against the vocabulary. std::unordered_map spent most of
// the load time on cache misses (bucket -> node -> key); here a probe touches one slot
// (with the full hash to reject mismatches) and then the key bytes once.
#pragma once
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace edgevl {

class StringIdMap {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;  // load factor <= 0.5 once n keys are in
    slots_.assign(cap, Slot{});
    size_ = 0;
  }

  // The key's bytes are not copied: they must outlive the map. A repeated key takes the
  // new id (last one wins, as a JSON object's duplicate key does).
  void insert(std::string_view key, int32_t id) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    uint64_t h = hash(key);
    for (size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      Slot& s = slots_[i];
      if (s.id < 0) {
        s = Slot{h, key.data(), static_cast<uint32_t>(key.size()), id};
        ++size_;
        return;
      }
      if (s.hash == h && key == std::string_view(s.key, s.len)) {
        s.id = id;
        return;
      }
    }
  }

  int32_t find(std::string_view key) const {
    if (slots_.empty()) return -1;
    uint64_t h = hash(key);
    for (size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.hash == h && key == std::string_view(s.key, s.len)) return s.id;
    }
  }

  size_t size() const { return size_; }

 private:
  struct Slot {
    uint64_t hash = 0;
    const char* key = nullptr;
    uint32_t len = 0;
    int32_t id = -1;  // -1: empty
  };
  static uint64_t hash(std::string_view s) { return std::hash<std::string_view>()(s); }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    reserve(old.size() > 8 ? old.size() : 8);  // doubles the capacity
    for (const Slot& s : old)
      if (s.id >= 0) insert(std::string_view(s.key, s.len), s.id);
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace edgevl

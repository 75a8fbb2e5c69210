#include "llm/kv_cache.h"

#include <cstring>

#include "core/error.h"

namespace edgevl {

KvCache::KvCache(int n_layers, int64_t capacity, int kv_dim)
    : n_layers_(n_layers), capacity_(capacity), kv_dim_(kv_dim),
      k_(static_cast<size_t>(n_layers) * capacity * kv_dim), v_(k_.size()) {
  cells_.reserve(static_cast<size_t>(capacity));
}

void KvCache::commit(const KvCell* cells, int64_t n) {
  if (size() + n > capacity_) fail(ErrorCode::kContextOverflow, "KV cache overflow");
  cells_.insert(cells_.end(), cells, cells + n);
}

void KvCache::truncate(int64_t from) {
  if (from < size()) cells_.resize(static_cast<size_t>(from));
}

void KvCache::erase(int64_t begin, int64_t end) {
  if (begin < 0 || end > size() || begin >= end) return;
  const int64_t tail = size() - end;
  for (int l = 0; l < n_layers_; ++l) {
    std::memmove(k(l) + begin * kv_dim_, k(l) + end * kv_dim_, sizeof(float) * tail * kv_dim_);
    std::memmove(v(l) + begin * kv_dim_, v(l) + end * kv_dim_, sizeof(float) * tail * kv_dim_);
  }
  cells_.erase(cells_.begin() + begin, cells_.begin() + end);
}

}  // namespace edgevl

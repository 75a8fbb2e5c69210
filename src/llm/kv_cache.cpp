#include "llm/kv_cache.h"

#include <cstring>

#include "core/error.h"
#include "core/fp16.h"

namespace edgevl {

const char* kv_type_name(KvType t) { return t == KvType::F16 ? "f16" : "f32"; }

KvType parse_kv_type(const std::string& name) {
  if (name == "f32") return KvType::F32;
  if (name == "f16") return KvType::F16;
  fail(ErrorCode::kInvalidArgument, "KV cache type \"" + name + "\": expected f32 or f16");
}

KvCache::KvCache(int n_layers, int64_t capacity, int kv_dim, KvType type)
    : n_layers_(n_layers), capacity_(capacity), kv_dim_(kv_dim), type_(type),
      k_(static_cast<size_t>(n_layers) * capacity * row_bytes()), v_(k_.size()) {
  cells_.reserve(static_cast<size_t>(capacity));
}

void KvCache::store_rows(uint8_t* dst, const float* src, int64_t n) const {
  const int64_t count = n * kv_dim_;
  if (type_ == KvType::F32) {
    std::memcpy(dst, src, sizeof(float) * count);
    return;
  }
  for (int64_t i = 0; i < count; ++i) {
    const uint16_t h = f32_to_f16(src[i]);
    std::memcpy(dst + 2 * i, &h, 2);
  }
}

void KvCache::write(int layer, int64_t row, int64_t n, const float* k, const float* v) {
  if (row < 0 || n < 0 || row + n > capacity_) fail(ErrorCode::kInternal, "KV cache write outside its rows");
  store_rows(k_.data() + layer_offset(layer) + row * row_bytes(), k, n);
  store_rows(v_.data() + layer_offset(layer) + row * row_bytes(), v, n);
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
  const size_t rb = row_bytes(), tail = static_cast<size_t>(size() - end) * rb;
  for (int l = 0; l < n_layers_; ++l) {
    uint8_t* kl = k_.data() + layer_offset(l);
    uint8_t* vl = v_.data() + layer_offset(l);
    std::memmove(kl + begin * rb, kl + end * rb, tail);
    std::memmove(vl + begin * rb, vl + end * rb, tail);
  }
  cells_.erase(cells_.begin() + begin, cells_.begin() + end);
}

}  // namespace edgevl

#include "tokenizer/bpe.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"

namespace edgevl {
namespace {

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// Murmur3's 64-bit finalizer: token ids are small and dense, so the raw key would
// cluster badly under a power-of-two mask.
uint64_t mix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

// One symbol of the word being merged: a token id in a doubly linked list over the
// original byte positions. id == -1 marks a symbol absorbed by its left neighbour.
struct Sym {
  int32_t id, prev, next;
};

// A possible merge of the symbols at `left` and its successor, valid only while both
// still hold the ids seen when it was queued.
struct Candidate {
  int32_t rank, left, left_id, right_id, merged;
};

// Heap order: lowest rank first, then leftmost, which is the order in which GPT-2's
// "merge every occurrence of the best pair, left to right" loop applies merges.
bool later(const Candidate& a, const Candidate& b) {
  return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
}

}  // namespace

void BpeModel::PairMap::reserve(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;  // load factor <= 0.5
  std::vector<uint64_t> old_keys = std::move(keys);
  std::vector<Merge> old_values = std::move(values);
  keys.assign(cap, kEmpty);
  values.assign(cap, Merge{0, 0});
  size = 0;
  for (size_t i = 0; i < old_keys.size(); ++i)
    if (old_keys[i] != kEmpty) insert(old_keys[i], old_values[i]);
}

void BpeModel::PairMap::insert(uint64_t key, Merge m) {
  if ((size + 1) * 2 > keys.size()) reserve(size + 1 > 8 ? (size + 1) * 2 : 16);
  size_t mask = keys.size() - 1;
  for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
    if (keys[i] == key) {
      values[i] = m;
      return;
    }
    if (keys[i] == kEmpty) {
      keys[i] = key;
      values[i] = m;
      ++size;
      return;
    }
  }
}

const BpeModel::Merge* BpeModel::PairMap::find(uint64_t key) const {
  if (keys.empty()) return nullptr;
  size_t mask = keys.size() - 1;
  for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
    if (keys[i] == key) return &values[i];
    if (keys[i] == kEmpty) return nullptr;
  }
}

BpeModel::BpeModel() { byte_token_.fill(-1); }

void BpeModel::reserve_merges(size_t n) { pairs_.reserve(n); }

void BpeModel::add_merge(int32_t left, int32_t right, int32_t merged, int32_t rank) {
  pairs_.insert(pair_key(left, right), Merge{rank, merged});
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (word.size() == 1) {  // common (digits, punctuation): no merging possible
    int32_t id = byte_token_[static_cast<uint8_t>(word[0])];
    if (id < 0) merge_word(word, out);  // throws the proper error
    out.push_back(id);
    return;
  }
  bool cacheable = word.size() <= kCacheMaxWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(std::string(word));
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  size_t start = out.size();
  merge_word(word, out);
  if (cacheable) {
    std::vector<int32_t> ids(out.begin() + static_cast<std::ptrdiff_t>(start), out.end());
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.size() >= kCacheMaxEntries) cache_.clear();
    cache_.emplace(std::string(word), std::move(ids));
  }
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& out) const {
  // Scratch buffers reused across calls on the same thread.
  thread_local std::vector<Sym> syms;
  thread_local std::vector<Candidate> heap;
  const int32_t n = static_cast<int32_t>(word.size());
  syms.resize(static_cast<size_t>(n));
  heap.clear();
  for (int32_t i = 0; i < n; ++i) {
    uint8_t b = static_cast<uint8_t>(word[static_cast<size_t>(i)]);
    int32_t id = byte_token_[b];
    if (id < 0) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", b);
      fail_format(std::string("tokenizer vocabulary has no token for byte ") + hex);
    }
    syms[static_cast<size_t>(i)] = Sym{id, i - 1, i + 1 < n ? i + 1 : -1};
  }
  auto queue = [&](int32_t left) {
    if (left < 0) return;
    int32_t right = syms[static_cast<size_t>(left)].next;
    if (right < 0) return;
    int32_t a = syms[static_cast<size_t>(left)].id, b = syms[static_cast<size_t>(right)].id;
    const Merge* m = pairs_.find(pair_key(a, b));
    if (!m) return;
    heap.push_back(Candidate{m->rank, left, a, b, m->merged});
    std::push_heap(heap.begin(), heap.end(), later);
  };
  for (int32_t i = 0; i + 1 < n; ++i) queue(i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    Candidate c = heap.back();
    heap.pop_back();
    Sym& l = syms[static_cast<size_t>(c.left)];
    if (l.id != c.left_id || l.next < 0) continue;  // stale: left changed or has no successor
    Sym& r = syms[static_cast<size_t>(l.next)];
    if (r.id != c.right_id) continue;  // stale: the successor changed
    l.id = c.merged;
    r.id = -1;
    l.next = r.next;
    if (r.next >= 0) syms[static_cast<size_t>(r.next)].prev = c.left;
    queue(l.prev);
    queue(c.left);
  }
  for (int32_t i = 0; i >= 0; i = syms[static_cast<size_t>(i)].next) out.push_back(syms[static_cast<size_t>(i)].id);
}

}  // namespace edgevl

// Byte-pair encoding over raw bytes with GPT-2 merge semantics: repeatedly merge the
// adjacent pair with the lowest merge rank (leftmost first among equals) until no
// adjacent pair has a rank. Results are cached per pre-tokenized word, since natural
// text repeats the same words over and over.
#pragma once
#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace edgevl {

class BpeModel {
 public:
  BpeModel();
  BpeModel(const BpeModel&) = delete;
  BpeModel& operator=(const BpeModel&) = delete;

  // The single-byte token for each byte value (-1: the vocabulary lacks it).
  void set_byte_token(uint8_t byte, int32_t id) { byte_token_[byte] = id; }
  void reserve_merges(size_t n);
  // rank = position in the merge list; a later duplicate of a pair replaces the earlier
  // one, like the dict HF builds from merges.txt.
  void add_merge(int32_t left, int32_t right, int32_t merged, int32_t rank);
  size_t merge_count() const { return pairs_.size; }

  // Appends the token ids of one pre-tokenized word (raw bytes) to `out`. Throws
  // Error(kFormat) when a byte has no single-byte token in the vocabulary.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

 private:
  struct Merge {
    int32_t rank, merged;
  };
  // Open-addressing hash map from (left << 32 | right) to its merge; looked up for
  // every adjacent pair, so it is kept flat and cache friendly.
  struct PairMap {
    static constexpr uint64_t kEmpty = ~0ull;
    std::vector<uint64_t> keys;
    std::vector<Merge> values;
    size_t size = 0;
    void reserve(size_t n);
    void insert(uint64_t key, Merge m);
    const Merge* find(uint64_t key) const;
  };

  void merge_word(std::string_view word, std::vector<int32_t>& out) const;

  std::array<int32_t, 256> byte_token_;
  PairMap pairs_;

  // Word cache. Bounded (cleared when full) so that hostile input cannot grow it
  // without limit; long words are not cached at all.
  static constexpr size_t kCacheMaxEntries = 1 << 17;
  static constexpr size_t kCacheMaxWordBytes = 128;
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace edgevl

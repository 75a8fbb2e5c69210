// One SAX pass over tokenizer.json. model.vocab and model.merges are ~99% of the file
// (150k entries each); building nlohmann's DOM for them (a std::map node per token) and
// tearing it down again was most of the load time, so they are streamed into flat
// arrays instead. Everything else (added tokens, normalizer, pre-tokenizer...) is small
// and becomes an ordinary DOM, checked field by field in tokenizer_load.cpp.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace edgevl {

struct TokenizerJson {
  struct Span {
    uint32_t off = 0, len = 0;
  };
  struct VocabEntry {
    Span key;
    int32_t id;
  };
  struct Merge {
    Span left, right;
  };

  // The document. When model.vocab is an object / model.merges an array they are
  // streamed (the flags are set) and absent here; any other shape stays in the DOM so
  // the loader can report it.
  nlohmann::json doc;
  bool vocab_streamed = false;
  bool merges_streamed = false;
  std::string strings;              // every streamed key and merge half, back to back
  std::vector<VocabEntry> vocab;    // file order
  std::vector<Merge> merges;        // file order = rank order

  std::string_view str(Span s) const { return std::string_view(strings).substr(s.off, s.len); }
};

// Throws Error(kFormat) naming `file` for invalid JSON, a vocab value that is not an
// integer id in range, or a merge that is neither "a b" nor ["a", "b"].
TokenizerJson read_tokenizer_json(std::string_view text, const std::string& file, int64_t max_token_id);

}  // namespace edgevl

// Internal: everything a loaded tokenizer holds. Built once by build_tokenizer_state()
// (tokenizer_load.cpp) and then shared read-only between copies of a Tokenizer; the BPE
// word cache inside is the only mutable part and is locked.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"

namespace edgevl {

struct TokenizerState {
  enum Flag : uint8_t {
    kExists = 1,        // the id names a vocabulary or added token
    kAdded = 2,         // an added token (its bytes are its content)
    kSpecial = 4,       // added token with "special": true
    kSkipOnDecode = 8,  // dropped by decode(skip_special=true)
  };

  std::string source;  // tokenizer.json path (or caller's name), for error messages
  bool nfc = false;    // normalizer is NFC
  Pretokenizer pretokenizer;
  AddedTokenMatcher added;
  BpeModel bpe;

  // id -> raw bytes, packed: token i is bytes[offsets[i], offsets[i+1]).
  std::string bytes;
  std::vector<uint32_t> offsets;
  std::vector<uint8_t> flags;

  int32_t size() const { return static_cast<int32_t>(flags.size()); }
  bool has(int32_t id) const { return id >= 0 && id < size() && (flags[static_cast<size_t>(id)] & kExists); }
  std::string_view token_bytes(int32_t id) const {
    return std::string_view(bytes).substr(offsets[static_cast<size_t>(id)],
                                          offsets[static_cast<size_t>(id) + 1] - offsets[static_cast<size_t>(id)]);
  }
};

// Parses tokenizer.json text (+ tokenizer_config.json text, may be empty). Errors are
// Error(kFormat) or Error(kUnsupported) whose message starts with the file's name.
std::shared_ptr<TokenizerState> build_tokenizer_state(std::string_view tokenizer_json,
                                                      const std::string& json_name,
                                                      std::string_view config_json,
                                                      const std::string& config_name);

}  // namespace edgevl

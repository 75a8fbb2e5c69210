// Qwen2 / Qwen2-VL / Qwen2.5-VL byte-level BPE tokenizer, matching Hugging Face's slow
// Qwen2Tokenizer (transformers 4.50): NFC, then added tokens cut out whole, then the
// pre-tokenizer regex, GPT-2 byte-to-unicode mapping and BPE merges by rank.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/utf8.h"  // Utf8StreamDecoder, is_valid_utf8

namespace edgevl {

struct TokenizerState;

// Cheap to copy: copies share the loaded (immutable) tables and the word cache.
// All const methods are safe to call from several threads at once.
class Tokenizer {
 public:
  Tokenizer() = default;  // empty; every method but loaded() throws kInvalidArgument

  // Loads <dir>/tokenizer.json (+ tokenizer_config.json if present, for added tokens,
  // their flags and the special-token names). Throws edgevl::Error naming file + problem.
  static Tokenizer load(const std::string& model_dir);
  // The same from in-memory text; config_json_text may be empty. Errors name source_name.
  static Tokenizer from_json(const std::string& tokenizer_json_text, const std::string& config_json_text,
                             const std::string& source_name);

  bool loaded() const { return state_ != nullptr; }

  // Like HF encode(text, add_special_tokens=False). With parse_special, added-token
  // strings inside the text become their ids; without, they are tokenized as plain text
  // (HF's split_special_tokens=True). Throws kInvalidArgument if text is not valid UTF-8.
  std::vector<int32_t> encode(std::string_view text, bool parse_special = true) const;

  // Like HF decode(ids, skip_special_tokens, clean_up_tokenization_spaces=False):
  // invalid UTF-8 becomes U+FFFD as with errors="replace". Throws kInvalidArgument for
  // an id that names no token.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;

  std::string token_to_bytes(int32_t id) const;  // raw bytes of one token (added token: its content)
  int32_t special_id(std::string_view content) const;  // id of an added token by content, -1 if none
  bool is_special(int32_t id) const;                   // added token with special=true
  int32_t vocab_size() const;                          // max id + 1 over vocab and added tokens

 private:
  const TokenizerState& state() const;
  std::shared_ptr<const TokenizerState> state_;
};

}  // namespace edgevl

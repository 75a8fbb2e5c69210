#include "tokenizer/tokenizer.h"

#include "core/error.h"
#include "core/mmap_file.h"
#include "tokenizer/tokenizer_state.h"

#include <sys/stat.h>

namespace edgevl {

Tokenizer Tokenizer::load(const std::string& model_dir) {
  std::string json_path = model_dir + "/tokenizer.json";
  std::string config_path = model_dir + "/tokenizer_config.json";
  std::string json_text = read_text_file(json_path);  // throws kIo naming the path
  std::string config_text;
  struct stat st {};
  if (::stat(config_path.c_str(), &st) == 0) config_text = read_text_file(config_path);
  Tokenizer t;
  t.state_ = build_tokenizer_state(json_text, json_path, config_text, config_path);
  return t;
}

Tokenizer Tokenizer::from_json(const std::string& tokenizer_json_text, const std::string& config_json_text,
                               const std::string& source_name) {
  Tokenizer t;
  t.state_ = build_tokenizer_state(tokenizer_json_text, source_name, config_json_text,
                                   source_name + " (tokenizer_config)");
  return t;
}

const TokenizerState& Tokenizer::state() const {
  if (!state_) fail(ErrorCode::kInvalidArgument, "tokenizer: not loaded");
  return *state_;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool parse_special) const {
  const TokenizerState& st = state();
  size_t bad = first_invalid_utf8(text);
  if (bad != std::string_view::npos)
    fail(ErrorCode::kInvalidArgument, "tokenizer: text is not valid UTF-8 (at byte " + std::to_string(bad) + ")");
  // Qwen2Tokenizer.prepare_for_tokenization normalizes the whole text first, so added
  // tokens are matched in the normalized text.
  std::string normalized;
  if (st.nfc) {
    normalized = nfc_normalize(text);
    text = normalized;
  }
  std::vector<TextPiece> pieces;
  if (parse_special) {
    st.added.split(text, pieces);
  } else if (!text.empty()) {
    pieces.push_back(TextPiece{std::string(text), -1});
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  std::vector<std::string_view> words;
  for (const TextPiece& p : pieces) {
    if (p.added_id >= 0) {
      ids.push_back(p.added_id);
      continue;
    }
    words.clear();
    st.pretokenizer.split(p.text, words);
    for (std::string_view w : words) st.bpe.encode_word(w, ids);
  }
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  const TokenizerState& st = state();
  // Concatenating raw bytes and decoding once equals HF's split into added-token and
  // byte-level sub-texts: token contents are valid UTF-8, so a cut there never changes
  // where a U+FFFD goes.
  std::string bytes;
  for (size_t i = 0; i < ids.size(); ++i) {
    int32_t id = ids[i];
    if (!st.has(id))
      fail(ErrorCode::kInvalidArgument, "tokenizer: decode: ids[" + std::to_string(i) + "] = " + std::to_string(id) +
                                            " is not a token id (vocab_size " + std::to_string(st.size()) + ")");
    if (skip_special && (st.flags[static_cast<size_t>(id)] & TokenizerState::kSkipOnDecode)) continue;
    bytes += st.token_bytes(id);
  }
  return utf8_replace_invalid(bytes);
}

std::string Tokenizer::token_to_bytes(int32_t id) const {
  const TokenizerState& st = state();
  if (!st.has(id))
    fail(ErrorCode::kInvalidArgument, "tokenizer: id " + std::to_string(id) + " is not a token id (vocab_size " +
                                          std::to_string(st.size()) + ")");
  return std::string(st.token_bytes(id));
}

int32_t Tokenizer::special_id(std::string_view content) const { return state().added.find(content); }

bool Tokenizer::is_special(int32_t id) const {
  const TokenizerState& st = state();
  return st.has(id) && (st.flags[static_cast<size_t>(id)] & TokenizerState::kSpecial);
}

int32_t Tokenizer::vocab_size() const { return state().size(); }

}  // namespace edgevl

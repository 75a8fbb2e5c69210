// Added tokens (<|im_start|>, <|image_pad|>, <tool_call>, ...): whole strings that are
// cut out of the text before the regex and BPE see it, so that they always become their
// own id. This follows PreTrainedTokenizer.tokenize() in transformers 4.50: *every*
// added token is matched, special or not, and the lstrip/rstrip/single_word flags
// adjust the neighbouring text the same way.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace edgevl {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false;       // eat whitespace on the left
  bool rstrip = false;       // eat whitespace on the right
  bool single_word = false;  // only match as a whole word
  bool normalized = false;   // informational: HF's slow tokenizer matches on NFC text anyway
};

// One piece of the input after splitting out added tokens.
struct TextPiece {
  std::string text;
  int32_t added_id = -1;  // >= 0: this piece is that added token; -1: ordinary text
};

class AddedTokenMatcher {
 public:
  // When two tokens share a content, the higher id wins, like HF's content -> id map.
  void build(const std::vector<AddedToken>& tokens);

  int32_t find(std::string_view content) const;  // id by exact content, -1 if none

  // Splits `text` at the leftmost-longest occurrences of added tokens.
  void split(std::string_view text, std::vector<TextPiece>& out) const;

 private:
  std::vector<AddedToken> tokens_;                     // by content, deduplicated
  std::unordered_map<std::string, size_t> by_content_;  // content -> index in tokens_
  // For each first byte, candidate tokens longest first, so the first hit is the longest.
  std::vector<size_t> by_first_byte_[256];
};

}  // namespace edgevl

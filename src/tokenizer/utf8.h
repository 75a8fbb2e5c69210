// UTF-8 helpers for the tokenizer: validation, NFC, and decoding raw token bytes the way
// Python's bytes.decode("utf-8", errors="replace") does (which is what Hugging Face's
// Qwen2Tokenizer uses), both for whole strings and incrementally during generation.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace edgevl {

// Well-formed UTF-8 per RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view s);

// Offset of the first byte that makes `s` invalid UTF-8, or npos when it is valid.
size_t first_invalid_utf8(std::string_view s);

// Any bytes -> valid UTF-8. Each maximal ill-formed subpart becomes one U+FFFD, exactly as
// CPython's decoder with errors="replace" (Unicode's "substitution of maximal subparts").
std::string utf8_replace_invalid(std::string_view bytes);

// Unicode NFC of valid UTF-8 text (utf8proc), as Python's unicodedata.normalize("NFC").
// Only the stretches that NFC could change are handed to utf8proc (see nfc.cpp).
std::string nfc_normalize(std::string_view valid_utf8);
// The same computed by utf8proc over the whole text in one call; tests check the
// fast path against it.
std::string nfc_normalize_reference(std::string_view valid_utf8);

// Streaming decoder for generation: push raw token bytes, get back only complete UTF-8
// characters; an incomplete (but so far valid) trailing sequence is held back until the
// bytes that complete it arrive. Because replacement decisions only depend on the bytes
// of one sequence, concat(push(...)...) + flush() == utf8_replace_invalid(all bytes).
class Utf8StreamDecoder {
 public:
  std::string push(std::string_view bytes);
  std::string flush();  // emits U+FFFD for any dangling incomplete sequence
  bool holding() const { return held_len_ > 0; }
  void reset() { held_len_ = 0; }

 private:
  char held_[4] = {};  // at most 3 bytes of an incomplete sequence are ever held
  size_t held_len_ = 0;
};

}  // namespace edgevl

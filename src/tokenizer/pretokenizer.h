// The pre-tokenizer: splits text into words with the Split regex from tokenizer.json,
// compiled with PCRE2 (UTF + UCP, JIT when available). Hugging Face runs the same
// pattern with Python's `regex` module (slow tokenizer) or Oniguruma (fast one), so the
// pattern is rewritten where PCRE2's meaning differs (see translate_pattern).
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace edgevl {

class Pretokenizer {
 public:
  Pretokenizer() = default;
  // Throws Error(kFormat) naming `source` when the pattern does not compile.
  Pretokenizer(const std::string& pattern, const std::string& source);
  ~Pretokenizer();
  Pretokenizer(Pretokenizer&&) noexcept;
  Pretokenizer& operator=(Pretokenizer&&) noexcept;

  bool empty() const { return code_ == nullptr; }

  // Appends the pieces of `text` (valid UTF-8) to `out`, in order, covering all of it:
  // each regex match is a piece ("Isolated"), and any text between matches is a piece
  // of its own. (With the Qwen2 pattern every character matches, so there is none.)
  void split(std::string_view text, std::vector<std::string_view>& out) const;

  // PCRE2 spelling of a Python-`regex` pattern. `\s`/`\S` become \p{White_Space} /
  // \P{White_Space}: Python's \s is exactly Unicode White_Space, while PCRE2's UCP \s
  // also matches U+180E (MONGOLIAN VOWEL SEPARATOR, no longer a space since Unicode 6.3).
  static std::string translate_pattern(const std::string& pattern);

 private:
  struct Code;
  Code* code_ = nullptr;
};

}  // namespace edgevl

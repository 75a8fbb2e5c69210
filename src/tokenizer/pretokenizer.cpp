#include "tokenizer/pretokenizer.h"

#include <pcre2.h>

#include "core/error.h"

namespace edgevl {
namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  if (pcre2_get_error_message(code, buf, sizeof buf) < 0) return "PCRE2 error " + std::to_string(code);
  return reinterpret_cast<const char*>(buf);
}

size_t utf8_char_len(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

}  // namespace

struct Pretokenizer::Code {
  pcre2_code* re = nullptr;
  ~Code() { pcre2_code_free(re); }
};

std::string Pretokenizer::translate_pattern(const std::string& pattern) {
  std::string out;
  out.reserve(pattern.size() + 32);
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c != '\\' || i + 1 == pattern.size()) {
      out.push_back(c);
      continue;
    }
    char e = pattern[++i];
    if (e == 's') {
      out += "\\p{White_Space}";  // valid inside and outside [...] alike
    } else if (e == 'S') {
      out += "\\P{White_Space}";
    } else if (e == 'Q') {  // \Q...\E is literal text: copy it untouched
      size_t end = pattern.find("\\E", i + 1);
      size_t stop = end == std::string::npos ? pattern.size() : end + 2;
      out.append(pattern, i - 1, stop - (i - 1));
      i = stop - 1;
    } else {
      out.push_back('\\');
      out.push_back(e);
    }
  }
  return out;
}

Pretokenizer::Pretokenizer(const std::string& pattern, const std::string& source) {
  std::string translated = translate_pattern(pattern);
  int err = 0;
  PCRE2_SIZE err_off = 0;
  pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                                 PCRE2_UTF | PCRE2_UCP, &err, &err_off, nullptr);
  if (!re)
    fail_format(source + ": pre_tokenizer regex does not compile at offset " + std::to_string(err_off) +
                ": " + pcre2_message(err));
  code_ = new Code;
  code_->re = re;
  // JIT is an optimisation only: when it is unavailable pcre2_match interprets.
  pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
}

Pretokenizer::~Pretokenizer() { delete code_; }

Pretokenizer::Pretokenizer(Pretokenizer&& o) noexcept : code_(o.code_) { o.code_ = nullptr; }

Pretokenizer& Pretokenizer::operator=(Pretokenizer&& o) noexcept {
  if (this != &o) {
    delete code_;
    code_ = o.code_;
    o.code_ = nullptr;
  }
  return *this;
}

void Pretokenizer::split(std::string_view text, std::vector<std::string_view>& out) const {
  if (text.empty()) return;
  if (!code_) {
    out.push_back(text);
    return;
  }
  struct MatchData {
    pcre2_match_data* md;
    ~MatchData() { pcre2_match_data_free(md); }
  } data{pcre2_match_data_create_from_pattern(code_->re, nullptr)};
  if (!data.md) fail(ErrorCode::kInternal, "pre-tokenizer: out of memory");

  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t covered = 0;  // text before this is already in `out`
  size_t from = 0;     // where the next search starts
  while (from < text.size()) {
    // The caller validated the UTF-8 once; without NO_UTF_CHECK PCRE2 would re-check
    // the whole subject on every call, which is quadratic.
    uint32_t opts = PCRE2_NO_UTF_CHECK;
    int rc = pcre2_match(code_->re, subject, text.size(), from, opts, data.md, nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
      rc = pcre2_match(code_->re, subject, text.size(), from, opts | PCRE2_NO_JIT, data.md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0)
      fail(ErrorCode::kInvalidArgument, "pre-tokenizer regex failed on this text: " + pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.md);
    size_t start = ov[0], end = ov[1];
    if (end <= start) {  // empty match: step over one character, keep it for a gap piece
      if (start >= text.size()) break;
      from = start + utf8_char_len(static_cast<unsigned char>(text[start]));
      continue;
    }
    if (start > covered) out.push_back(text.substr(covered, start - covered));
    out.push_back(text.substr(start, end - start));
    covered = from = end;
  }
  if (covered < text.size()) out.push_back(text.substr(covered));
}

}  // namespace edgevl

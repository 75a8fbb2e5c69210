#include "tokenizer/added_tokens.h"

#include <algorithm>
#include <cstring>

namespace edgevl {
namespace {

// Python's str.isspace(), which str.strip() uses (it differs from regex's \s: it also
// counts U+001C..U+001F).
bool python_isspace(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// Code point of the (valid UTF-8) character starting at s[i].
uint32_t decode_at(const std::string& s, size_t i, size_t& len) {
  auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(s[i + k])); };
  uint32_t c = b(0);
  if (c < 0x80) return len = 1, c;
  if (c < 0xE0) return len = 2, ((c & 0x1F) << 6) | (b(1) & 0x3F);
  if (c < 0xF0) return len = 3, ((c & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
  return len = 4, ((c & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
}

std::string lstrip(const std::string& s) {
  size_t i = 0, len = 0;
  while (i < s.size() && python_isspace(decode_at(s, i, len))) i += len;
  return s.substr(i);
}

std::string rstrip(const std::string& s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    size_t len = 0;
    if (!python_isspace(decode_at(s, start, len))) break;
    end = start;
  }
  return s.substr(0, end);
}

}  // namespace

void AddedTokenMatcher::build(const std::vector<AddedToken>& tokens) {
  tokens_.clear();
  by_content_.clear();
  for (auto& v : by_first_byte_) v.clear();
  std::vector<const AddedToken*> sorted;
  for (const auto& t : tokens)
    if (!t.content.empty()) sorted.push_back(&t);
  std::stable_sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->id < b->id; });
  for (const AddedToken* t : sorted) {
    auto it = by_content_.find(t->content);
    if (it != by_content_.end()) {
      tokens_[it->second] = *t;  // higher id replaces
    } else {
      by_content_.emplace(t->content, tokens_.size());
      tokens_.push_back(*t);
    }
  }
  for (size_t i = 0; i < tokens_.size(); ++i)
    by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(i);
  for (auto& v : by_first_byte_)
    std::stable_sort(v.begin(), v.end(),
                     [&](size_t a, size_t b) { return tokens_[a].content.size() > tokens_[b].content.size(); });
}

int32_t AddedTokenMatcher::find(std::string_view content) const {
  auto it = by_content_.find(std::string(content));
  return it == by_content_.end() ? -1 : tokens_[it->second].id;
}

void AddedTokenMatcher::split(std::string_view text, std::vector<TextPiece>& out) const {
  if (tokens_.empty()) {
    if (!text.empty()) out.push_back(TextPiece{std::string(text), -1});
    return;
  }
  // 1. Cut at leftmost-longest matches (HF's Trie.split). Token contents are valid UTF-8
  //    and so is the text, so a match always starts and ends on character boundaries.
  std::vector<std::string> parts;
  std::vector<const AddedToken*> part_token;  // non-null: that part is the token
  size_t plain_start = 0;
  for (size_t i = 0; i < text.size();) {
    const AddedToken* hit = nullptr;
    for (size_t k : by_first_byte_[static_cast<unsigned char>(text[i])]) {
      const std::string& c = tokens_[k].content;
      if (c.size() <= text.size() - i && std::memcmp(text.data() + i, c.data(), c.size()) == 0) {
        hit = &tokens_[k];
        break;
      }
    }
    if (!hit) {
      ++i;
      continue;
    }
    if (i > plain_start) {
      parts.emplace_back(text.substr(plain_start, i - plain_start));
      part_token.push_back(nullptr);
    }
    parts.push_back(hit->content);
    part_token.push_back(hit);
    i += hit->content.size();
    plain_start = i;
  }
  if (plain_start < text.size()) {
    parts.emplace_back(text.substr(plain_start));
    part_token.push_back(nullptr);
  }

  // 2. Apply the flags exactly as tokenize() does, including its quirks: `left` and
  //    `right` are the neighbours *before* stripping, and a part is recognised as a token
  //    by its current content, so a part already merged into a neighbour is left alone.
  const size_t n = parts.size();
  for (size_t i = 0; i < n; ++i) {
    if (!part_token[i] || parts[i] != part_token[i]->content) continue;
    const AddedToken& t = *part_token[i];
    if (!t.lstrip && !t.rstrip && !t.single_word) continue;
    const std::string left = i > 0 ? parts[i - 1] : std::string();
    const std::string right = i + 1 < n ? parts[i + 1] : std::string();
    if (t.rstrip && !right.empty()) parts[i + 1] = lstrip(right);
    if (t.lstrip && !left.empty()) parts[i - 1] = rstrip(left);
    if (t.single_word && !left.empty() && left.back() != ' ') {
      parts[i - 1] += parts[i];
      parts[i].clear();
    } else if (t.single_word && !right.empty() && right.front() != ' ') {
      parts[i] += right;
      parts[i + 1].clear();
    }
  }

  // 3. Empty parts vanish; a part whose content is an added token is that token.
  for (size_t i = 0; i < n; ++i) {
    if (parts[i].empty()) continue;
    int32_t id = part_token[i] && parts[i] == part_token[i]->content ? part_token[i]->id : find(parts[i]);
    out.push_back(TextPiece{std::move(parts[i]), id});
  }
}

}  // namespace edgevl

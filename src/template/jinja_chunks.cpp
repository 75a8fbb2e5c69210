#include "template/jinja_chunks.h"

#include <algorithm>
#include <cctype>

#include "template/jinja_value.h"

namespace edgevl {
namespace jinja {

std::vector<Chunk> split_chunks(const std::string& src) {
  std::vector<Chunk> out;
  size_t i = 0;
  int line = 1;
  bool strip_next = false;  // the previous tag ended with '-' (or trim_blocks after a block tag)
  bool trim_newline = false;
  auto count_lines = [&](size_t a, size_t b) {
    for (size_t k = a; k < b; ++k) line += src[k] == '\n';
  };
  while (i <= src.size()) {
    size_t open = src.find('{', i);
    while (open != std::string::npos && open + 1 < src.size() && src[open + 1] != '{' && src[open + 1] != '%' && src[open + 1] != '#')
      open = src.find('{', open + 1);
    if (open != std::string::npos && open + 1 >= src.size()) open = std::string::npos;
    std::string text = src.substr(i, (open == std::string::npos ? src.size() : open) - i);
    const int text_line = line;
    count_lines(i, open == std::string::npos ? src.size() : open);
    if (strip_next) {
      size_t k = 0;
      while (k < text.size() && std::isspace(static_cast<unsigned char>(text[k]))) ++k;
      text.erase(0, k);
    } else if (trim_newline && !text.empty() && text[0] == '\n') {
      text.erase(0, 1);
    }
    strip_next = trim_newline = false;
    if (open == std::string::npos) {
      if (!text.empty()) out.push_back({Chunk::Text, text, text_line});
      break;
    }
    const char kind = src[open + 1];
    const bool minus_left = open + 2 < src.size() && src[open + 2] == '-';
    const bool plus_left = open + 2 < src.size() && src[open + 2] == '+';
    if (minus_left) {
      while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    } else if (kind != '{' && !plus_left) {
      // lstrip_blocks: blanks between a line start and a block/comment tag go.
      size_t k = open;
      while (k > i && (src[k - 1] == ' ' || src[k - 1] == '\t')) --k;
      if (k == 0 || src[k - 1] == '\n') text.erase(text.size() - std::min(text.size(), open - k));
    }
    if (!text.empty()) out.push_back({Chunk::Text, text, text_line});
    const char* close = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
    const size_t body_start = open + 2 + (minus_left || plus_left ? 1 : 0);
    const size_t end = src.find(close, body_start);
    if (end == std::string::npos) syntax(line, std::string("unclosed '{") + kind + "'");
    std::string body = src.substr(body_start, end - body_start);
    const bool minus_right = !body.empty() && body.back() == '-';
    if (minus_right || (!body.empty() && body.back() == '+')) body.pop_back();
    const int tag_line = line;
    count_lines(open, end + 2);
    if (kind != '#') out.push_back({kind == '{' ? Chunk::Expr : Chunk::Stmt, body, tag_line});
    strip_next = minus_right;
    trim_newline = kind != '{';  // trim_blocks: the newline right after a block tag goes
    i = end + 2;
  }
  return out;
}

}  // namespace jinja
}  // namespace edgevl

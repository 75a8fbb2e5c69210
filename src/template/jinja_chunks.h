// Template text -> chunks: literal text, {{ expression }} and {% statement %} bodies
// ({# comments #} dropped), with whitespace control applied ({%- -%}, {{- -}}, and
// Hugging Face's environment settings trim_blocks + lstrip_blocks).
#pragma once
#include <string>
#include <vector>

namespace edgevl {
namespace jinja {

struct Chunk {
  enum Kind { Text, Expr, Stmt } kind;
  std::string body;
  int line;  // where it starts, for error messages
};

// Throws Error(kFormat) on an unclosed tag.
std::vector<Chunk> split_chunks(const std::string& src);

}  // namespace jinja
}  // namespace edgevl

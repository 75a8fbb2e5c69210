// The tokens of one tag's body ("for m in messages", "x | trim"): names, string and
// number literals, operators.
#pragma once
#include <string>
#include <vector>

namespace edgevl {
namespace jinja {

enum class Tok { Ident, Str, Int, Float, Op, End };
struct Token {
  Tok kind;
  std::string text;  // Str: the unescaped value
};

// Throws Error(kFormat) naming `line` on an unterminated string or a stray character;
// the result always ends with an End token.
std::vector<Token> lex_expr(const std::string& s, int line);

}  // namespace jinja
}  // namespace edgevl

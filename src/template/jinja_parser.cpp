#include "template/jinja_parser.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "template/jinja_expr_parser.h"
#include "template/jinja_lexer.h"
#include "template/jinja_value.h"

namespace edgevl {
namespace jinja {

namespace {

class Parser {
 public:
  Parser(std::vector<Chunk> chunks, const Limits& l) : c_(std::move(chunks)), limits_(l) {}

  NodeP parse() {
    NodeP root = block({});
    if (i_ < c_.size()) syntax(c_[i_].line, "unexpected '{% " + c_[i_].body + " %}'");
    return root;
  }

 private:
  static std::string first_word(const std::string& s) {
    size_t a = 0;
    while (a < s.size() && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
    size_t b = a;
    while (b < s.size() && (std::isalnum(static_cast<unsigned char>(s[b])) || s[b] == '_')) ++b;
    return s.substr(a, b - a);
  }

  // Parses until a statement whose first word is in `stops` (left unconsumed) or the end.
  NodeP block(const std::vector<std::string>& stops) {
    if (++depth_ > limits_.max_depth) syntax(i_ < c_.size() ? c_[i_].line : 0, "blocks nested too deeply");
    auto seq = std::make_shared<Node>();
    seq->kind = Node::Seq;
    while (i_ < c_.size()) {
      const Chunk& ch = c_[i_];
      if (ch.kind == Chunk::Text) {
        auto n = std::make_shared<Node>();
        n->kind = Node::Text;
        n->text = ch.body;
        seq->children.push_back(n);
        ++i_;
        continue;
      }
      if (ch.kind == Chunk::Expr) {
        auto n = std::make_shared<Node>();
        n->kind = Node::Output;
        n->expr = ExprParser(lex_expr(ch.body, ch.line), ch.line, limits_.max_depth).parse_all();
        seq->children.push_back(n);
        ++i_;
        continue;
      }
      const std::string w = first_word(ch.body);
      for (const auto& s : stops)
        if (w == s) {
          --depth_;
          return seq;
        }
      ++i_;
      if (w == "if") {
        seq->children.push_back(parse_if(ch));
      } else if (w == "for") {
        seq->children.push_back(parse_for(ch));
      } else if (w == "set") {
        seq->children.push_back(parse_set(ch));
      } else if (w == "endif" || w == "endfor" || w == "else" || w == "elif") {
        syntax(ch.line, "'" + w + "' without its opening tag");
      } else {
        unsupported(ch.line, "'{% " + w + " %}'");
      }
    }
    --depth_;
    return seq;
  }

  ExprP tag_expr(const Chunk& ch, size_t skip_words) {
    auto toks = lex_expr(ch.body, ch.line);
    toks.erase(toks.begin(), toks.begin() + static_cast<std::ptrdiff_t>(skip_words));
    return ExprParser(std::move(toks), ch.line, limits_.max_depth).parse_all();
  }

  NodeP parse_if(const Chunk& open) {
    auto n = std::make_shared<Node>();
    n->kind = Node::If;
    ExprP cond = tag_expr(open, 1);
    for (;;) {
      NodeP body = block({"elif", "else", "endif"});
      n->branches.push_back({cond, body});
      if (i_ >= c_.size()) syntax(open.line, "'if' without 'endif'");
      const Chunk& ch = c_[i_++];
      const std::string w = first_word(ch.body);
      if (w == "endif") return n;
      if (w == "elif") {
        cond = tag_expr(ch, 1);
      } else {  // else
        NodeP els = block({"endif"});
        if (i_ >= c_.size()) syntax(open.line, "'if' without 'endif'");
        ++i_;
        n->branches.push_back({nullptr, els});
        return n;
      }
    }
  }

  NodeP parse_for(const Chunk& open) {
    auto n = std::make_shared<Node>();
    n->kind = Node::For;
    auto toks = lex_expr(open.body, open.line);
    size_t k = 1;
    for (;;) {
      if (toks[k].kind != Tok::Ident) syntax(open.line, "expected a loop variable");
      n->targets.push_back(toks[k++].text);
      if (toks[k].kind == Tok::Op && toks[k].text == ",") {
        ++k;
        continue;
      }
      break;
    }
    if (n->targets.size() > 2) unsupported(open.line, "unpacking more than two loop variables");
    if (!(toks[k].kind == Tok::Ident && toks[k].text == "in")) syntax(open.line, "expected 'in'");
    toks.erase(toks.begin(), toks.begin() + static_cast<std::ptrdiff_t>(k + 1));
    ExprParser p(std::move(toks), open.line, limits_.max_depth);
    n->expr = p.expr();
    if (p.is_ident("if") || p.is_ident("recursive")) unsupported(open.line, "loop filters and recursive loops");
    if (p.peek().kind != Tok::End) syntax(open.line, "unexpected '" + p.peek().text + "'");
    n->body = block({"endfor", "else"});
    if (i_ >= c_.size()) syntax(open.line, "'for' without 'endfor'");
    if (first_word(c_[i_].body) == "else") unsupported(c_[i_].line, "'for ... else'");
    ++i_;
    return n;
  }

  NodeP parse_set(const Chunk& ch) {
    auto n = std::make_shared<Node>();
    n->kind = Node::Set;
    auto toks = lex_expr(ch.body, ch.line);
    if (toks[1].kind != Tok::Ident) syntax(ch.line, "expected a name after 'set'");
    n->targets.push_back(toks[1].text);
    size_t k = 2;
    if (toks[k].kind == Tok::Op && toks[k].text == ".") {
      if (toks[k + 1].kind != Tok::Ident) syntax(ch.line, "expected an attribute name");
      n->targets.push_back(toks[k + 1].text);
      k += 2;
    }
    if (!(toks[k].kind == Tok::Op && toks[k].text == "=")) unsupported(ch.line, "'{% set %}' blocks and multiple targets");
    toks.erase(toks.begin(), toks.begin() + static_cast<std::ptrdiff_t>(k + 1));
    n->expr = ExprParser(std::move(toks), ch.line, limits_.max_depth).parse_all();
    return n;
  }

  std::vector<Chunk> c_;
  size_t i_ = 0;
  Limits limits_;
  int depth_ = 0;
};

}  // namespace

NodeP parse_template(std::vector<Chunk> chunks, const Limits& limits) { return Parser(std::move(chunks), limits).parse(); }

}  // namespace jinja
}  // namespace edgevl

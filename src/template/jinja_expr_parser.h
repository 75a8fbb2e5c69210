// The tokens of one tag -> an expression tree, by recursive descent with Python/Jinja
// precedence: a if c else b < or < and < not < comparisons, in, is < ~ < + - < * / // % <
// unary - < postfix (.attr, [i], [a:b], calls, | filters). Nesting is bounded by max_depth.
#pragma once
#include <algorithm>
#include <string>
#include <vector>

#include "template/jinja_ast.h"
#include "template/jinja_lexer.h"
#include "template/jinja_value.h"

namespace edgevl {
namespace jinja {

class ExprParser {
 public:
  ExprParser(std::vector<Token> t, int line, int max_depth) : t_(std::move(t)), line_(line), max_depth_(max_depth) {}

  ExprP parse_all();
  ExprP expr();
  const Token& peek(size_t k = 0) const { return t_[std::min(pos_ + k, t_.size() - 1)]; }
  Token next() { return t_[std::min(pos_++, t_.size() - 1)]; }
  bool is_ident(const char* s, size_t k = 0) const { return peek(k).kind == Tok::Ident && peek(k).text == s; }
  bool is_op(const char* s) const { return peek().kind == Tok::Op && peek().text == s; }
  void expect_op(const char* s);
  std::string ident();
  size_t pos() const { return pos_; }


 private:
  struct Guard {
    explicit Guard(ExprParser* p) : p(p) {
      if (++p->depth_ > p->max_depth_) syntax(p->line_, "expression nested too deeply");
    }
    ~Guard() { --p->depth_; }
    ExprParser* p;
  };
  static ExprP make(Expr::Kind k, std::string name, std::vector<ExprP> args);
  static ExprP lit(Value v);
  ExprP or_expr();
  ExprP and_expr();
  ExprP not_expr();
  ExprP compare();
  ExprP concat();
  ExprP additive();
  ExprP multiplicative();
  ExprP unary();
  void call_args(ExprP call);
  ExprP postfix(ExprP e);
  ExprP primary();

  std::vector<Token> t_;
  size_t pos_ = 0;
  int line_;
  int max_depth_;
  int depth_ = 0;
};

}  // namespace jinja
}  // namespace edgevl

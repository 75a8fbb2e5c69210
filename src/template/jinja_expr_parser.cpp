#include "template/jinja_expr_parser.h"

#include <memory>

namespace edgevl {
namespace jinja {

ExprP ExprParser::parse_all() {
  ExprP e = expr();
  if (peek().kind != Tok::End) syntax(line_, "unexpected '" + peek().text + "'");
  return e;
}

ExprP ExprParser::expr() {
  Guard g(this);
  ExprP a = or_expr();
  if (is_ident("if")) {
    next();
    ExprP c = or_expr();
    ExprP b;
    if (is_ident("else")) {
      next();
      b = expr();
    } else {
      b = lit(undefined());
    }
    return make(Expr::Cond, "", {c, a, b});
  }
  return a;
}

void ExprParser::expect_op(const char* s) {
  if (!is_op(s)) syntax(line_, std::string("expected '") + s + "' but found '" + peek().text + "'");
  next();
}

std::string ExprParser::ident() {
  if (peek().kind != Tok::Ident) syntax(line_, "expected a name but found '" + peek().text + "'");
  return next().text;
}

ExprP ExprParser::make(Expr::Kind k, std::string name, std::vector<ExprP> args) {
  auto e = std::make_shared<Expr>();
  e->kind = k;
  e->name = std::move(name);
  e->args = std::move(args);
  return e;
}

ExprP ExprParser::lit(Value v) {
  auto e = std::make_shared<Expr>();
  e->kind = Expr::Literal;
  e->value = std::move(v);
  return e;
}

ExprP ExprParser::or_expr() {
  ExprP a = and_expr();
  while (is_ident("or")) {
    next();
    a = make(Expr::Binary, "or", {a, and_expr()});
  }
  return a;
}

ExprP ExprParser::and_expr() {
  ExprP a = not_expr();
  while (is_ident("and")) {
    next();
    a = make(Expr::Binary, "and", {a, not_expr()});
  }
  return a;
}

ExprP ExprParser::not_expr() {
  Guard g(this);
  if (is_ident("not")) {
    next();
    return make(Expr::Unary, "not", {not_expr()});
  }
  return compare();
}

ExprP ExprParser::compare() {
  ExprP a = concat();
  for (;;) {
    if (peek().kind == Tok::Op && (peek().text == "==" || peek().text == "!=" || peek().text == "<" || peek().text == ">" ||
                                   peek().text == "<=" || peek().text == ">=")) {
      const std::string op = next().text;
      a = make(Expr::Binary, op, {a, concat()});
    } else if (is_ident("in")) {
      next();
      a = make(Expr::Binary, "in", {a, concat()});
    } else if (is_ident("not") && is_ident("in", 1)) {
      next();
      next();
      a = make(Expr::Unary, "not", {make(Expr::Binary, "in", {a, concat()})});
    } else if (is_ident("is")) {
      next();
      bool neg = false;
      if (is_ident("not")) {
        next();
        neg = true;
      }
      std::string test = peek().kind == Tok::Ident ? ident() : "";
      if (test.empty()) syntax(line_, "expected a test name after 'is'");
      ExprP t = make(Expr::Test, test, {a});
      t->negate = neg;
      a = t;
    } else {
      return a;
    }
  }
}

ExprP ExprParser::concat() {
  ExprP a = additive();
  while (is_op("~")) {
    next();
    a = make(Expr::Binary, "~", {a, additive()});
  }
  return a;
}

ExprP ExprParser::additive() {
  ExprP a = multiplicative();
  while (is_op("+") || is_op("-")) {
    const std::string op = next().text;
    a = make(Expr::Binary, op, {a, multiplicative()});
  }
  return a;
}

ExprP ExprParser::multiplicative() {
  ExprP a = unary();
  while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
    const std::string op = next().text;
    a = make(Expr::Binary, op, {a, unary()});
  }
  return a;
}

ExprP ExprParser::unary() {
  Guard g(this);
  if (is_op("-")) {
    next();
    return make(Expr::Unary, "-", {unary()});
  }
  if (is_op("+")) {
    next();
    return unary();
  }
  return postfix(primary());
}

void ExprParser::call_args(ExprP call) {
  expect_op("(");
  while (!is_op(")")) {
    if (peek().kind == Tok::Ident && peek(1).kind == Tok::Op && peek(1).text == "=") {
      call->kwnames.push_back(next().text);
      next();
      call->args.push_back(expr());
    } else {
      if (!call->kwnames.empty()) syntax(line_, "positional argument after keyword argument");
      call->args.push_back(expr());
    }
    if (!is_op(")")) expect_op(",");
  }
  next();
}

ExprP ExprParser::postfix(ExprP e) {
  for (;;) {
    if (is_op(".")) {
      next();
      const std::string name = ident();
      if (is_op("(")) {
        ExprP c = make(Expr::Call, name, {e});
        call_args(c);
        e = c;
      } else {
        e = make(Expr::Attr, name, {e});
      }
    } else if (is_op("[")) {
      next();
      ExprP a = is_op(":") ? lit(Value()) : expr();
      if (is_op(":")) {
        next();
        ExprP b = is_op("]") ? lit(Value()) : expr();
        expect_op("]");
        e = make(Expr::Slice, "", {e, a, b});
      } else {
        expect_op("]");
        e = make(Expr::Index, "", {e, a});
      }
    } else if (is_op("(")) {
      if (e->kind != Expr::Var) syntax(line_, "only named functions can be called");
      ExprP c = make(Expr::Call, e->name, {});
      c->value = true;  // a free function, not a method
      call_args(c);
      e = c;
    } else if (is_op("|")) {
      next();
      ExprP f = make(Expr::Filter, ident(), {e});
      if (is_op("(")) call_args(f);
      e = f;
    } else {
      return e;
    }
  }
}

ExprP ExprParser::primary() {
  Guard g(this);
  const Token t = next();
  switch (t.kind) {
    case Tok::Str: {
      std::string s = t.text;
      while (peek().kind == Tok::Str) s += next().text;  // adjacent literals concatenate
      return lit(Value(s));
    }
    case Tok::Int: return lit(Value(std::stoll(t.text)));
    case Tok::Float: return lit(Value(std::stod(t.text)));
    case Tok::Ident:
      if (t.text == "true" || t.text == "True") return lit(Value(true));
      if (t.text == "false" || t.text == "False") return lit(Value(false));
      if (t.text == "none" || t.text == "None") return lit(Value());
      {
        ExprP v = make(Expr::Var, t.text, {});
        return v;
      }
    case Tok::Op:
      if (t.text == "(") {
        ExprP e = expr();
        if (is_op(",")) unsupported(line_, "tuple literals");
        expect_op(")");
        return e;
      }
      if (t.text == "[") {
        ExprP l = make(Expr::List, "", {});
        while (!is_op("]")) {
          l->args.push_back(expr());
          if (!is_op("]")) expect_op(",");
        }
        next();
        return l;
      }
      if (t.text == "{") {
        ExprP d = make(Expr::Dict, "", {});
        while (!is_op("}")) {
          d->args.push_back(expr());
          expect_op(":");
          d->args.push_back(expr());
          if (!is_op("}")) expect_op(",");
        }
        next();
        return d;
      }
      syntax(line_, "unexpected '" + t.text + "'");
    case Tok::End: syntax(line_, "unexpected end of expression");
  }
  syntax(line_, "bad expression");
}
}  // namespace jinja
}  // namespace edgevl

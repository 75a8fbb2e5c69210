// Jinja-subset renderer (jinja.h): template text -> chunks (text and tags, with whitespace
// control), tags -> tokens -> AST (recursive descent), AST -> output (tree-walking
// evaluator over JSON values). Undefined is the JSON "discarded" value.
#include "template/jinja.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <functional>
#include <map>
#include <vector>

#include "core/error.h"

namespace edgevl {
namespace jinja {

namespace {

[[noreturn]] void unsupported(int line, const std::string& what) {
  fail(ErrorCode::kUnsupported, "chat template line " + std::to_string(line) + ": " + what + " is not supported");
}
[[noreturn]] void syntax(int line, const std::string& what) {
  fail(ErrorCode::kFormat, "chat template line " + std::to_string(line) + ": " + what);
}
[[noreturn]] void runtime(const std::string& what) { fail(ErrorCode::kInvalidArgument, "chat template: " + what); }

Value undefined() { return Value(Value::value_t::discarded); }
bool is_undef(const Value& v) { return v.is_discarded(); }

// ---- tokens of one tag --------------------------------------------------------------------

enum class Tok { Ident, Str, Int, Float, Op, End };
struct Token {
  Tok kind;
  std::string text;
};

std::vector<Token> lex_expr(const std::string& s, int line) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      out.push_back({Tok::Ident, s.substr(i, j - i)});
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      bool dot = false;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || (s[j] == '.' && !dot && j + 1 < s.size() &&
                                                                                    std::isdigit(static_cast<unsigned char>(s[j + 1]))))) {
        dot |= s[j] == '.';
        ++j;
      }
      if (j - i > 18) syntax(line, "number too long");
      out.push_back({dot ? Tok::Float : Tok::Int, s.substr(i, j - i)});
      i = j;
    } else if (c == '\'' || c == '"') {
      std::string v;
      size_t j = i + 1;
      for (;; ++j) {
        if (j >= s.size()) syntax(line, "unterminated string");
        if (s[j] == c) break;
        if (s[j] == '\\' && j + 1 < s.size()) {
          const char e = s[++j];
          switch (e) {
            case 'n': v += '\n'; break;
            case 't': v += '\t'; break;
            case 'r': v += '\r'; break;
            case '\\': v += '\\'; break;
            case '\'': v += '\''; break;
            case '"': v += '"'; break;
            default: v += '\\'; v += e; break;  // Python keeps unknown escapes as written
          }
        } else {
          v += s[j];
        }
      }
      out.push_back({Tok::Str, v});
      i = j + 1;
    } else {
      static const char* ops[] = {"==", "!=", "<=", ">=", "//", "**", "(", ")", "[", "]", "{", "}", ".", ",", ":", "|",
                                  "~",  "+",  "-",  "*",  "/",  "%",  "<", ">", "="};
      bool found = false;
      for (const char* op : ops) {
        const size_t n = std::strlen(op);
        if (s.compare(i, n, op) == 0) {
          out.push_back({Tok::Op, op});
          i += n;
          found = true;
          break;
        }
      }
      if (!found) syntax(line, std::string("unexpected character '") + c + "'");
    }
  }
  out.push_back({Tok::End, ""});
  return out;
}

}  // namespace

// ---- AST ----------------------------------------------------------------------------------

struct Expr {
  enum Kind { Literal, Var, Attr, Index, Slice, Call, Filter, Test, Unary, Binary, Cond, List, Dict } kind;
  Value value;                               // Literal
  std::string name;                          // Var / Attr / Filter / Test / Call method / operator
  std::vector<std::shared_ptr<Expr>> args;   // operands, call args
  std::vector<std::string> kwnames;          // Call: names of the trailing keyword args
  bool negate = false;                       // Test: is not
};
using ExprP = std::shared_ptr<Expr>;

struct Node {
  enum Kind { Text, Output, If, For, Set, Seq } kind;
  std::string text;                          // Text
  ExprP expr;                                // Output value, For iterable, Set value
  std::vector<std::pair<ExprP, std::shared_ptr<Node>>> branches;  // If: (cond or null for else, body)
  std::vector<std::string> targets;          // For loop variables; Set: name [, attr]
  std::shared_ptr<Node> body;                // For
  std::vector<std::shared_ptr<Node>> children;  // Seq
};
using NodeP = std::shared_ptr<Node>;

namespace {

// ---- template text -> chunks --------------------------------------------------------------

struct Chunk {
  enum Kind { Text, Expr, Stmt } kind;
  std::string body;
  int line;
};

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

// ---- parser -------------------------------------------------------------------------------

class ExprParser {
 public:
  ExprParser(std::vector<Token> t, int line, int max_depth) : t_(std::move(t)), line_(line), max_depth_(max_depth) {}

  ExprP parse_all() {
    ExprP e = expr();
    if (peek().kind != Tok::End) syntax(line_, "unexpected '" + peek().text + "'");
    return e;
  }
  ExprP expr() {
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
  const Token& peek(size_t k = 0) const { return t_[std::min(pos_ + k, t_.size() - 1)]; }
  Token next() { return t_[std::min(pos_++, t_.size() - 1)]; }
  bool is_ident(const char* s, size_t k = 0) const { return peek(k).kind == Tok::Ident && peek(k).text == s; }
  bool is_op(const char* s) const { return peek().kind == Tok::Op && peek().text == s; }
  void expect_op(const char* s) {
    if (!is_op(s)) syntax(line_, std::string("expected '") + s + "' but found '" + peek().text + "'");
    next();
  }
  std::string ident() {
    if (peek().kind != Tok::Ident) syntax(line_, "expected a name but found '" + peek().text + "'");
    return next().text;
  }
  size_t pos() const { return pos_; }

 private:
  struct Guard {
    explicit Guard(ExprParser* p) : p(p) {
      if (++p->depth_ > p->max_depth_) syntax(p->line_, "expression nested too deeply");
    }
    ~Guard() { --p->depth_; }
    ExprParser* p;
  };
  static ExprP make(Expr::Kind k, std::string name, std::vector<ExprP> args) {
    auto e = std::make_shared<Expr>();
    e->kind = k;
    e->name = std::move(name);
    e->args = std::move(args);
    return e;
  }
  static ExprP lit(Value v) {
    auto e = std::make_shared<Expr>();
    e->kind = Expr::Literal;
    e->value = std::move(v);
    return e;
  }
  ExprP or_expr() {
    ExprP a = and_expr();
    while (is_ident("or")) {
      next();
      a = make(Expr::Binary, "or", {a, and_expr()});
    }
    return a;
  }
  ExprP and_expr() {
    ExprP a = not_expr();
    while (is_ident("and")) {
      next();
      a = make(Expr::Binary, "and", {a, not_expr()});
    }
    return a;
  }
  ExprP not_expr() {
    Guard g(this);
    if (is_ident("not")) {
      next();
      return make(Expr::Unary, "not", {not_expr()});
    }
    return compare();
  }
  ExprP compare() {
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
  ExprP concat() {
    ExprP a = additive();
    while (is_op("~")) {
      next();
      a = make(Expr::Binary, "~", {a, additive()});
    }
    return a;
  }
  ExprP additive() {
    ExprP a = multiplicative();
    while (is_op("+") || is_op("-")) {
      const std::string op = next().text;
      a = make(Expr::Binary, op, {a, multiplicative()});
    }
    return a;
  }
  ExprP multiplicative() {
    ExprP a = unary();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const std::string op = next().text;
      a = make(Expr::Binary, op, {a, unary()});
    }
    return a;
  }
  ExprP unary() {
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
  void call_args(ExprP call) {
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
  ExprP postfix(ExprP e) {
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
  ExprP primary() {
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

  std::vector<Token> t_;
  size_t pos_ = 0;
  int line_;
  int max_depth_;
  int depth_ = 0;
};

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

// ---- values -------------------------------------------------------------------------------

bool truthy(const Value& v) {
  if (is_undef(v) || v.is_null()) return false;
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_integer()) return v.get<int64_t>() != 0;
  if (v.is_number()) return v.get<double>() != 0.0;
  if (v.is_string()) return !v.get_ref<const std::string&>().empty();
  return !v.empty();
}

std::string json_string(const std::string& s) { return Value(s).dump(-1, ' ', false, Value::error_handler_t::replace); }

// Python's json.dumps(x, ensure_ascii=False) with its default separators ", " and ": "
// (what transformers' tojson filter writes).
std::string to_json(const Value& v, int depth = 0) {
  if (depth > 256) runtime("tojson: value nested too deeply");
  if (is_undef(v)) return "null";
  if (v.is_string()) return json_string(v.get_ref<const std::string&>());
  if (v.is_array()) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + to_json(v[i], depth + 1);
    return s + "]";
  }
  if (v.is_object()) {
    std::string s = "{";
    bool first = true;
    for (auto it = v.begin(); it != v.end(); ++it) {
      s += (first ? "" : ", ") + json_string(it.key()) + ": " + to_json(it.value(), depth + 1);
      first = false;
    }
    return s + "}";
  }
  return v.dump();  // numbers, booleans (true/false), null
}

std::string py_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[32];
  for (int prec = 1; prec <= 17; ++prec) {  // shortest repr that reads back (Python's repr)
    std::snprintf(buf, sizeof buf, "%.*g", prec, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string s = buf;
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

// str() of a value, as Jinja prints it.
std::string to_str(const Value& v, int depth = 0) {
  if (depth > 256) runtime("value nested too deeply");
  if (is_undef(v)) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "None";
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) return py_float(v.get<double>());
  auto repr = [&](const Value& x) { return x.is_string() ? "'" + x.get<std::string>() + "'" : to_str(x, depth + 1); };
  if (v.is_array()) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + repr(v[i]);
    return s + "]";
  }
  std::string s = "{";
  bool first = true;
  for (auto it = v.begin(); it != v.end(); ++it) {
    s += (first ? "" : ", ") + repr(Value(it.key())) + ": " + repr(it.value());
    first = false;
  }
  return s + "}";
}

std::string type_name(const Value& v) {
  if (is_undef(v)) return "undefined";
  return v.type_name();
}

// ---- evaluator ----------------------------------------------------------------------------

class Renderer {
 public:
  Renderer(const Limits& l, const Value& ctx) : limits_(l) {
    scopes_.emplace_back();
    if (ctx.is_object())
      for (auto it = ctx.begin(); it != ctx.end(); ++it) scopes_.back()[it.key()] = it.value();
  }

  void run(const Node& n) {
    step();
    switch (n.kind) {
      case Node::Seq:
        for (const auto& c : n.children) run(*c);
        return;
      case Node::Text: emit(n.text); return;
      case Node::Output: emit(to_str(eval(*n.expr))); return;
      case Node::If:
        for (const auto& [cond, body] : n.branches)
          if (!cond || truthy(eval(*cond))) {
            run(*body);
            return;
          }
        return;
      case Node::Set: {
        Value v = eval(*n.expr);
        if (n.targets.size() == 1) {
          scopes_.back()[n.targets[0]] = std::move(v);
        } else {
          Value* ns = lookup_mut(n.targets[0]);
          if (!ns || !ns->is_object()) runtime("cannot set attribute '" + n.targets[1] + "' of '" + n.targets[0] + "', not a namespace");
          (*ns)[n.targets[1]] = std::move(v);
        }
        return;
      }
      case Node::For: run_for(n); return;
    }
  }

  std::string out;

 private:
  void step() {
    if (++steps_ > limits_.max_steps) runtime("evaluation exceeds " + std::to_string(limits_.max_steps) + " steps");
  }
  void emit(const std::string& s) {
    if (out.size() + s.size() > limits_.max_output_bytes)
      runtime("output exceeds " + std::to_string(limits_.max_output_bytes) + " bytes");
    out += s;
  }

  const Value* lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto f = it->find(name);
      if (f != it->end()) return &f->second;
    }
    return nullptr;
  }
  Value* lookup_mut(const std::string& name) {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto f = it->find(name);
      if (f != it->end()) return &f->second;
    }
    return nullptr;
  }

  void run_for(const Node& n) {
    const Value seq = eval(*n.expr);
    std::vector<Value> items;
    if (seq.is_array()) {
      items.assign(seq.begin(), seq.end());
    } else if (seq.is_object()) {
      for (auto it = seq.begin(); it != seq.end(); ++it) items.push_back(Value(it.key()));
    } else if (seq.is_string()) {
      const std::string& s = seq.get_ref<const std::string&>();
      for (char c : s) items.push_back(Value(std::string(1, c)));
    } else if (is_undef(seq) || seq.is_null()) {
      return;  // Jinja iterates undefined as empty; None is an error in Python, kept lenient
    } else {
      runtime("cannot loop over a " + type_name(seq));
    }
    const int64_t len = static_cast<int64_t>(items.size());
    if (static_cast<int>(scopes_.size()) > limits_.max_depth) runtime("loops nested too deeply");
    for (int64_t i = 0; i < len; ++i) {
      step();
      scopes_.emplace_back();
      auto& sc = scopes_.back();
      if (n.targets.size() == 1) {
        sc[n.targets[0]] = items[i];
      } else {
        if (!items[i].is_array() || items[i].size() != 2) runtime("cannot unpack a " + type_name(items[i]) + " into two loop variables");
        sc[n.targets[0]] = items[i][0];
        sc[n.targets[1]] = items[i][1];
      }
      Value loop = Value::object();
      loop["index0"] = i;
      loop["index"] = i + 1;
      loop["revindex"] = len - i;
      loop["revindex0"] = len - i - 1;
      loop["first"] = i == 0;
      loop["last"] = i == len - 1;
      loop["length"] = len;
      loop["previtem"] = i > 0 ? items[i - 1] : undefined();
      loop["nextitem"] = i + 1 < len ? items[i + 1] : undefined();
      sc["loop"] = std::move(loop);
      run(*n.body);
      scopes_.pop_back();
    }
  }

  static Value get_attr(const Value& obj, const std::string& name) {
    if (obj.is_object()) {
      auto it = obj.find(name);
      return it == obj.end() ? undefined() : *it;
    }
    return undefined();
  }

  static Value get_index(const Value& obj, const Value& key) {
    if (obj.is_object() && key.is_string()) {
      auto it = obj.find(key.get<std::string>());
      return it == obj.end() ? undefined() : *it;
    }
    if ((obj.is_array() || obj.is_string()) && key.is_number_integer()) {
      const int64_t n = obj.is_array() ? static_cast<int64_t>(obj.size()) : static_cast<int64_t>(obj.get_ref<const std::string&>().size());
      int64_t i = key.get<int64_t>();
      if (i < 0) i += n;
      if (i < 0 || i >= n) return undefined();
      if (obj.is_array()) return obj[static_cast<size_t>(i)];
      return Value(std::string(1, obj.get_ref<const std::string&>()[static_cast<size_t>(i)]));
    }
    return undefined();
  }

  static Value slice(const Value& obj, const Value& a, const Value& b) {
    if (!obj.is_array() && !obj.is_string()) runtime("cannot slice a " + type_name(obj));
    const int64_t n = obj.is_array() ? static_cast<int64_t>(obj.size()) : static_cast<int64_t>(obj.get_ref<const std::string&>().size());
    auto clampi = [n](const Value& v, int64_t def) {
      if (v.is_null()) return def;
      if (!v.is_number_integer()) runtime("slice bounds must be integers");
      int64_t i = v.get<int64_t>();
      if (i < 0) i += n;
      return std::max<int64_t>(0, std::min<int64_t>(n, i));
    };
    const int64_t lo = clampi(a, 0), hi = std::max(lo, clampi(b, n));
    if (obj.is_string()) return Value(obj.get_ref<const std::string&>().substr(static_cast<size_t>(lo), static_cast<size_t>(hi - lo)));
    Value r = Value::array();
    for (int64_t i = lo; i < hi; ++i) r.push_back(obj[static_cast<size_t>(i)]);
    return r;
  }

  static bool equal(const Value& a, const Value& b) {
    if (is_undef(a) || is_undef(b)) return is_undef(a) && is_undef(b);
    if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
    return a == b;
  }

  static bool contains(const Value& hay, const Value& needle) {
    if (hay.is_string()) {
      if (!needle.is_string()) runtime("'in <string>' needs a string on the left");
      return hay.get_ref<const std::string&>().find(needle.get_ref<const std::string&>()) != std::string::npos;
    }
    if (hay.is_array()) {
      for (const auto& x : hay)
        if (equal(x, needle)) return true;
      return false;
    }
    if (hay.is_object()) return needle.is_string() && hay.contains(needle.get<std::string>());
    if (is_undef(hay) || hay.is_null()) return false;
    runtime("'in' needs a string, list or dict, not a " + type_name(hay));
  }

  static double num(const Value& v, const char* op) {
    if (!v.is_number() && !v.is_boolean()) runtime(std::string("'") + op + "' needs numbers, not a " + type_name(v));
    return v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>();
  }

  Value arith(const std::string& op, const Value& a, const Value& b) {
    if (op == "+") {
      if (a.is_string() && b.is_string()) {
        const size_t n = a.get_ref<const std::string&>().size() + b.get_ref<const std::string&>().size();
        if (n > limits_.max_output_bytes) runtime("string exceeds the output limit");
        return Value(a.get<std::string>() + b.get<std::string>());
      }
      if (a.is_array() && b.is_array()) {
        if (a.size() + b.size() > limits_.max_output_bytes) runtime("list too long");
        Value r = a;
        for (const auto& x : b) r.push_back(x);
        return r;
      }
    }
    const bool ints = a.is_number_integer() && b.is_number_integer();
    const double x = num(a, op.c_str()), y = num(b, op.c_str());
    if (op == "+") return ints ? Value(a.get<int64_t>() + b.get<int64_t>()) : Value(x + y);
    if (op == "-") return ints ? Value(a.get<int64_t>() - b.get<int64_t>()) : Value(x - y);
    if (op == "*") return ints ? Value(a.get<int64_t>() * b.get<int64_t>()) : Value(x * y);
    if (y == 0) runtime("division by zero");
    if (op == "/") return Value(x / y);
    if (op == "//") return ints ? Value(static_cast<int64_t>(std::floor(x / y))) : Value(std::floor(x / y));
    if (op == "%") return ints ? Value(((a.get<int64_t>() % b.get<int64_t>()) + b.get<int64_t>()) % b.get<int64_t>()) : Value(std::fmod(x, y));
    runtime("unknown operator " + op);
  }

  Value eval(const Expr& e) {
    step();
    switch (e.kind) {
      case Expr::Literal: return e.value;
      case Expr::Var: {
        const Value* v = lookup(e.name);
        return v ? *v : undefined();
      }
      case Expr::Attr: return get_attr(eval(*e.args[0]), e.name);
      case Expr::Index: return get_index(eval(*e.args[0]), eval(*e.args[1]));
      case Expr::Slice: return slice(eval(*e.args[0]), eval(*e.args[1]), eval(*e.args[2]));
      case Expr::List: {
        Value r = Value::array();
        for (const auto& a : e.args) r.push_back(eval(*a));
        return r;
      }
      case Expr::Dict: {
        Value r = Value::object();
        for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
          const Value k = eval(*e.args[i]);
          if (!k.is_string()) runtime("dict keys must be strings");
          r[k.get<std::string>()] = eval(*e.args[i + 1]);
        }
        return r;
      }
      case Expr::Cond: return truthy(eval(*e.args[0])) ? eval(*e.args[1]) : eval(*e.args[2]);
      case Expr::Unary: {
        const Value v = eval(*e.args[0]);
        if (e.name == "not") return Value(!truthy(v));
        if (v.is_number_integer()) return Value(-v.get<int64_t>());
        return Value(-num(v, "-"));
      }
      case Expr::Binary: {
        if (e.name == "and") {
          Value a = eval(*e.args[0]);
          return truthy(a) ? eval(*e.args[1]) : a;
        }
        if (e.name == "or") {
          Value a = eval(*e.args[0]);
          return truthy(a) ? a : eval(*e.args[1]);
        }
        const Value a = eval(*e.args[0]), b = eval(*e.args[1]);
        if (e.name == "==") return Value(equal(a, b));
        if (e.name == "!=") return Value(!equal(a, b));
        if (e.name == "in") return Value(contains(b, a));
        if (e.name == "~") {
          std::string s = to_str(a);
          s += to_str(b);
          if (s.size() > limits_.max_output_bytes) runtime("string exceeds the output limit");
          return Value(s);
        }
        if (e.name == "<" || e.name == ">" || e.name == "<=" || e.name == ">=") {
          int c;
          if (a.is_string() && b.is_string()) {
            c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
          } else {
            const double x = num(a, e.name.c_str()), y = num(b, e.name.c_str());
            c = x < y ? -1 : (x > y ? 1 : 0);
          }
          if (e.name == "<") return Value(c < 0);
          if (e.name == ">") return Value(c > 0);
          if (e.name == "<=") return Value(c <= 0);
          return Value(c >= 0);
        }
        return arith(e.name, a, b);
      }
      case Expr::Test: return Value(test(e.name, eval(*e.args[0])) != e.negate);
      case Expr::Filter: return filter(e);
      case Expr::Call: return call(e);
    }
    runtime("bad expression");
  }

  static bool test(const std::string& t, const Value& v) {
    if (t == "defined") return !is_undef(v);
    if (t == "undefined") return is_undef(v);
    if (t == "none") return v.is_null();
    if (t == "string") return v.is_string();
    if (t == "number") return v.is_number();
    if (t == "integer") return v.is_number_integer();
    if (t == "float") return v.is_number_float();
    if (t == "boolean") return v.is_boolean();
    if (t == "true") return v.is_boolean() && v.get<bool>();
    if (t == "false") return v.is_boolean() && !v.get<bool>();
    if (t == "mapping") return v.is_object();
    if (t == "sequence" || t == "iterable") return v.is_array() || v.is_string() || (t == "iterable" && v.is_object());
    fail(ErrorCode::kUnsupported, "chat template: test '" + t + "' is not supported");
  }

  std::vector<Value> args_of(const Expr& e, size_t first) {
    std::vector<Value> a;
    for (size_t i = first; i < e.args.size(); ++i) a.push_back(eval(*e.args[i]));
    return a;
  }

  Value filter(const Expr& e) {
    const Value v = eval(*e.args[0]);
    const std::vector<Value> a = args_of(e, 1);
    const std::string& f = e.name;
    auto need_str = [&]() -> const std::string& {
      if (!v.is_string()) runtime("filter '" + f + "' needs a string, not a " + type_name(v));
      return v.get_ref<const std::string&>();
    };
    if (f == "tojson") {
      if (!a.empty()) fail(ErrorCode::kUnsupported, "chat template: tojson arguments (indent) are not supported");
      return Value(to_json(v));
    }
    if (f == "length" || f == "count") {
      if (v.is_string()) return Value(static_cast<int64_t>(v.get_ref<const std::string&>().size()));
      if (v.is_array() || v.is_object()) return Value(static_cast<int64_t>(v.size()));
      runtime("length of a " + type_name(v));
    }
    if (f == "trim") return Value(strip(need_str(), " \t\n\r\f\v", true, true));
    if (f == "lower" || f == "upper") {
      std::string s = need_str();
      for (auto& c : s) c = static_cast<char>(f == "lower" ? std::tolower(static_cast<unsigned char>(c)) : std::toupper(static_cast<unsigned char>(c)));
      return Value(s);
    }
    if (f == "capitalize") {
      std::string s = need_str();
      for (size_t i = 0; i < s.size(); ++i)
        s[i] = static_cast<char>(i == 0 ? std::toupper(static_cast<unsigned char>(s[i])) : std::tolower(static_cast<unsigned char>(s[i])));
      return Value(s);
    }
    if (f == "first" || f == "last") {
      if (v.is_array()) return v.empty() ? undefined() : (f == "first" ? v.front() : v.back());
      if (v.is_string()) {
        const std::string& s = v.get_ref<const std::string&>();
        return s.empty() ? undefined() : Value(std::string(1, f == "first" ? s.front() : s.back()));
      }
      runtime("filter '" + f + "' of a " + type_name(v));
    }
    if (f == "string") return Value(to_str(v));
    if (f == "int") {
      if (v.is_number()) return Value(static_cast<int64_t>(v.get<double>()));
      if (v.is_string()) {
        try {
          return Value(static_cast<int64_t>(std::stoll(v.get<std::string>())));
        } catch (...) {
          return Value(0);
        }
      }
      return Value(0);
    }
    if (f == "default" || f == "d") return is_undef(v) || (a.size() > 1 && truthy(a[1]) && !truthy(v)) ? (a.empty() ? Value("") : a[0]) : v;
    if (f == "join") {
      if (!v.is_array()) runtime("join of a " + type_name(v));
      const std::string sep = a.empty() ? "" : to_str(a[0]);
      std::string s;
      for (size_t i = 0; i < v.size(); ++i) {
        s += (i ? sep : "") + to_str(v[i]);
        if (s.size() > limits_.max_output_bytes) runtime("string exceeds the output limit");
      }
      return Value(s);
    }
    if (f == "reverse") {
      if (v.is_string()) return Value(std::string(need_str().rbegin(), need_str().rend()));
      if (!v.is_array()) runtime("reverse of a " + type_name(v));
      Value r = Value::array();
      for (auto it = v.rbegin(); it != v.rend(); ++it) r.push_back(*it);
      return r;
    }
    if (f == "list") {
      if (v.is_array()) return v;
      Value r = Value::array();
      if (v.is_object())
        for (auto it = v.begin(); it != v.end(); ++it) r.push_back(Value(it.key()));
      else if (v.is_string())
        for (char c : v.get_ref<const std::string&>()) r.push_back(Value(std::string(1, c)));
      else
        runtime("list of a " + type_name(v));
      return r;
    }
    if (f == "items") return items(v);
    fail(ErrorCode::kUnsupported, "chat template: filter '" + f + "' is not supported");
  }

  static Value items(const Value& v) {
    if (!v.is_object()) runtime("items() of a " + type_name(v));
    Value r = Value::array();
    for (auto it = v.begin(); it != v.end(); ++it) r.push_back(Value::array({Value(it.key()), it.value()}));
    return r;
  }

  static std::string strip(const std::string& s, const std::string& chars, bool left, bool right) {
    size_t a = 0, b = s.size();
    if (left)
      while (a < b && chars.find(s[a]) != std::string::npos) ++a;
    if (right)
      while (b > a && chars.find(s[b - 1]) != std::string::npos) --b;
    return s.substr(a, b - a);
  }

  Value call(const Expr& e) {
    if (e.value.is_boolean()) {  // free function
      const std::vector<Value> a = args_of(e, 0);
      if (e.name == "namespace") {
        Value ns = Value::object();
        for (size_t i = 0; i < e.kwnames.size(); ++i) ns[e.kwnames[i]] = a[a.size() - e.kwnames.size() + i];
        return ns;
      }
      if (e.name == "raise_exception") runtime("the template raised an error: " + (a.empty() ? std::string() : to_str(a[0])));
      if (e.name == "range") {
        if (a.empty() || a.size() > 2) runtime("range() takes 1 or 2 arguments");
        const int64_t lo = a.size() == 2 ? static_cast<int64_t>(num(a[0], "range")) : 0;
        const int64_t hi = static_cast<int64_t>(num(a.back(), "range"));
        if (hi - lo > 100000) runtime("range() too long");
        Value r = Value::array();
        for (int64_t i = lo; i < hi; ++i) r.push_back(i);
        return r;
      }
      fail(ErrorCode::kUnsupported, "chat template: function '" + e.name + "' is not supported");
    }
    const Value self = eval(*e.args[0]);
    const std::vector<Value> a = args_of(e, 1);
    const std::string& m = e.name;
    if (self.is_object()) {
      if (m == "items") return items(self);
      if (m == "keys" || m == "values") {
        Value r = Value::array();
        for (auto it = self.begin(); it != self.end(); ++it) r.push_back(m == "keys" ? Value(it.key()) : it.value());
        return r;
      }
      if (m == "get") {
        if (a.empty() || !a[0].is_string()) runtime("get() needs a string key");
        auto it = self.find(a[0].get<std::string>());
        return it != self.end() ? *it : (a.size() > 1 ? a[1] : Value());
      }
    }
    if (self.is_string()) {
      const std::string& s = self.get_ref<const std::string&>();
      auto arg_str = [&](size_t i) -> std::string {
        if (i >= a.size() || !a[i].is_string()) runtime("'" + m + "' needs a string argument");
        return a[i].get<std::string>();
      };
      const std::string ws = " \t\n\r\f\v";
      if (m == "strip") return Value(strip(s, a.empty() ? ws : arg_str(0), true, true));
      if (m == "lstrip") return Value(strip(s, a.empty() ? ws : arg_str(0), true, false));
      if (m == "rstrip") return Value(strip(s, a.empty() ? ws : arg_str(0), false, true));
      if (m == "startswith") return Value(s.compare(0, arg_str(0).size(), arg_str(0)) == 0);
      if (m == "endswith") {
        const std::string x = arg_str(0);
        return Value(s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0);
      }
      if (m == "upper" || m == "lower") {
        std::string r = s;
        for (auto& c : r) c = static_cast<char>(m == "lower" ? std::tolower(static_cast<unsigned char>(c)) : std::toupper(static_cast<unsigned char>(c)));
        return Value(r);
      }
      if (m == "split") {
        Value r = Value::array();
        if (a.empty()) {  // whitespace split
          size_t i = 0;
          while (i < s.size()) {
            while (i < s.size() && ws.find(s[i]) != std::string::npos) ++i;
            size_t j = i;
            while (j < s.size() && ws.find(s[j]) == std::string::npos) ++j;
            if (j > i) r.push_back(Value(s.substr(i, j - i)));
            i = j;
          }
          return r;
        }
        const std::string sep = arg_str(0);
        if (sep.empty()) runtime("split() with an empty separator");
        size_t i = 0;
        for (;;) {
          const size_t j = s.find(sep, i);
          r.push_back(Value(s.substr(i, j == std::string::npos ? std::string::npos : j - i)));
          if (j == std::string::npos) break;
          i = j + sep.size();
        }
        return r;
      }
      if (m == "replace") {
        const std::string from = arg_str(0), to = arg_str(1);
        if (from.empty()) runtime("replace() of an empty string");
        std::string r;
        size_t i = 0;
        for (;;) {
          const size_t j = s.find(from, i);
          if (j == std::string::npos) break;
          r += s.substr(i, j - i) + to;
          if (r.size() > limits_.max_output_bytes) runtime("string exceeds the output limit");
          i = j + from.size();
        }
        return Value(r + s.substr(i));
      }
    }
    fail(ErrorCode::kUnsupported, "chat template: method '" + m + "' of a " + type_name(self) + " is not supported");
  }

  Limits limits_;
  int64_t steps_ = 0;
  std::vector<std::map<std::string, Value>> scopes_;
};

}  // namespace

Template Template::parse(const std::string& source, const Limits& limits) {
  if (source.size() > limits.max_output_bytes) fail(ErrorCode::kInvalidArgument, "chat template: the template itself is too large");
  Template t;
  t.limits_ = limits;
  t.root_ = Parser(split_chunks(source), limits).parse();
  return t;
}

std::string Template::render(const Value& context) const {
  if (!root_) fail(ErrorCode::kInvalidArgument, "chat template: not parsed");
  Renderer r(limits_, context);
  r.run(*root_);
  return std::move(r.out);
}

}  // namespace jinja
}  // namespace edgevl

// The syntax tree of a parsed template: expressions (Expr) and statements (Node).
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "template/jinja.h"

namespace edgevl {
namespace jinja {

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

}  // namespace jinja
}  // namespace edgevl

// Syntax tree -> output: a tree-walking evaluator over JSON values with Jinja's scoping
// (a for body is its own scope; namespace() objects carry values out of loops). Every node
// and loop iteration counts as a step; steps and output size are bounded by Limits.
#pragma once
#include <string>

#include "template/jinja_ast.h"

namespace edgevl {
namespace jinja {

// Throws Error(kInvalidArgument) when rendering fails or exceeds a limit, Error(kUnsupported)
// for a filter, test, function or method outside the subset.
std::string render_template(const Node& root, const Limits& limits, const Value& context);

}  // namespace jinja
}  // namespace edgevl

// Chunks -> syntax tree: text, output and the statements if / for / set, by recursive descent. Nesting of blocks and of expressions is
// bounded by Limits::max_depth, so a hostile template cannot exhaust the stack.
#pragma once
#include <vector>

#include "template/jinja_ast.h"
#include "template/jinja_chunks.h"

namespace edgevl {
namespace jinja {

// Throws Error(kUnsupported) for tags outside the subset, Error(kFormat) for syntax errors.
NodeP parse_template(std::vector<Chunk> chunks, const Limits& limits);

}  // namespace jinja
}  // namespace edgevl

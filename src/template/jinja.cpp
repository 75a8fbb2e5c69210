// Jinja-subset renderer (jinja.h), in stages, one file each: template text -> chunks
// (jinja_chunks: text and tags, whitespace control), tag bodies -> tokens (jinja_lexer)
// -> syntax tree (jinja_parser, jinja_expr_parser; jinja_ast), tree -> output
// (jinja_render, with the built-in filters/tests/methods of jinja_builtins over the
// values of jinja_value).
#include "template/jinja.h"

#include "core/error.h"
#include "template/jinja_ast.h"
#include "template/jinja_parser.h"
#include "template/jinja_render.h"

namespace edgevl {
namespace jinja {

Template Template::parse(const std::string& source, const Limits& limits) {
  if (source.size() > limits.max_output_bytes) fail(ErrorCode::kInvalidArgument, "chat template: the template itself is too large");
  Template t;
  t.limits_ = limits;
  t.root_ = parse_template(split_chunks(source), limits);
  return t;
}

std::string Template::render(const Value& context) const {
  if (!root_) fail(ErrorCode::kInvalidArgument, "chat template: not parsed");
  return render_template(*root_, limits_, context);
}

}  // namespace jinja
}  // namespace edgevl

// A small, safe renderer for the Jinja subset that chat templates use (Hugging Face's
// tokenizer_config.json / chat_template.json, llama.cpp's tokenizer.chat_template), so a
// model's own template can be rendered without Python.
//
// Supported: text, {{ expr }}, {% ... %}, {# comments #}, whitespace control ({%- -%},
// {{- -}}) and Hugging Face's environment settings trim_blocks + lstrip_blocks.
// Statements: for (over lists, dict keys, `a, b` unpacking; loop.index/index0/first/last/
// length/revindex/revindex0), if / elif / else, set (name or name.attr, e.g. namespace
// counters). Expressions: string/int/float/bool/none literals, list and dict literals,
// variables, .attr and [index] (negative list indices), slices [a:b], calls of namespace(),
// range(), raise_exception(), string methods (strip, lstrip, rstrip, startswith, endswith,
// split, upper, lower, replace) and dict items()/keys()/values()/get(); operators
// not/and/or, == != < <= > >=, in / not in, is [not] TEST (string, number, integer, mapping,
// sequence, iterable, defined, undefined, none, boolean, true, false), + - * / // %, ~, a if c
// else b; filters tojson, length/count, trim, lower, upper, first, last, string, int,
// default, join, reverse, list, items, capitalize.
// Not supported (rejected with kUnsupported, so callers can fall back): macros, call
// blocks, include/import/extends, block set, for-else, loop.cycle, recursive loops, and
// any other tag, filter, test or method.
//
// Bounded: output size, nesting depth of the parse, and evaluation steps are capped
// (Limits); hostile templates fail with an Error, never crash or hang.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace edgevl {
namespace jinja {

using Value = nlohmann::ordered_json;  // keeps dict key order, as Python does

struct Limits {
  size_t max_output_bytes = size_t{4} << 20;
  int max_depth = 64;             // nesting of blocks and expressions
  int64_t max_steps = 1'000'000;  // evaluation steps (nodes visited, loop iterations); ~2 s worst case
};

struct Node;

class Template {
 public:
  // Throws Error(kUnsupported) for constructs outside the subset, Error(kFormat) for
  // syntax errors; the message names the line.
  static Template parse(const std::string& source, const Limits& limits = {});
  // Renders with the given variables (an object: messages, add_generation_prompt, ...).
  // Throws Error(kUnsupported / kInvalidArgument) on evaluation errors, including
  // raise_exception() from the template and exceeded limits.
  std::string render(const Value& context) const;

 private:
  std::shared_ptr<const Node> root_;
  Limits limits_;
};

}  // namespace jinja
}  // namespace edgevl

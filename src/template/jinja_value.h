// Values of the Jinja subset (JSON values; undefined is the JSON "discarded" value), how
// Jinja prints and tests them, and the errors every stage raises.
#pragma once
#include <string>

#include "template/jinja.h"

namespace edgevl {
namespace jinja {

// Errors name the template line where the parser knows it. kUnsupported marks a construct
// outside the subset (callers may fall back), kFormat a syntax error, kInvalidArgument a
// failure while rendering (including exceeded limits).
[[noreturn]] void unsupported(int line, const std::string& what);
[[noreturn]] void syntax(int line, const std::string& what);
[[noreturn]] void runtime(const std::string& what);

inline Value undefined() { return Value(Value::value_t::discarded); }
inline bool is_undef(const Value& v) { return v.is_discarded(); }

bool truthy(const Value& v);
// Python's json.dumps(x, ensure_ascii=False) with its default separators ", " and ": "
// (what transformers' tojson filter writes).
std::string to_json(const Value& v, int depth = 0);
// str() of a value, as Jinja prints it.
std::string to_str(const Value& v, int depth = 0);
std::string type_name(const Value& v);
// A number (booleans count as 0/1) for operator `op`; anything else is an error naming op.
double num(const Value& v, const char* op);

}  // namespace jinja
}  // namespace edgevl

// The built-ins of the subset: tests (x is T), filters (x | f(args)), free functions
// (namespace, range, raise_exception) and methods of strings and dicts. Each throws
// Error(kUnsupported) for a name outside the subset and Error(kInvalidArgument) for a bad
// argument; strings they build stay within limits.max_output_bytes.
#pragma once
#include <string>
#include <vector>

#include "template/jinja.h"

namespace edgevl {
namespace jinja {

bool apply_test(const std::string& name, const Value& v);
Value apply_filter(const std::string& name, const Value& v, const std::vector<Value>& args, const Limits& limits);
// kwnames: the names of the trailing keyword arguments among args.
Value call_function(const std::string& name, const std::vector<Value>& args, const std::vector<std::string>& kwnames);
Value call_method(const Value& self, const std::string& name, const std::vector<Value>& args, const Limits& limits);

// Helpers shared by filters and methods: a dict's [key, value] pairs; s without the
// given characters at its left and/or right end.
Value items(const Value& v);
std::string strip(const std::string& s, const std::string& chars, bool left, bool right);

}  // namespace jinja
}  // namespace edgevl

#include "template/jinja_value.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"

namespace edgevl {
namespace jinja {

void unsupported(int line, const std::string& what) {
  fail(ErrorCode::kUnsupported, "chat template line " + std::to_string(line) + ": " + what + " is not supported");
}
void syntax(int line, const std::string& what) { fail(ErrorCode::kFormat, "chat template line " + std::to_string(line) + ": " + what); }
void runtime(const std::string& what) { fail(ErrorCode::kInvalidArgument, "chat template: " + what); }

bool truthy(const Value& v) {
  if (is_undef(v) || v.is_null()) return false;
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_integer()) return v.get<int64_t>() != 0;
  if (v.is_number()) return v.get<double>() != 0.0;
  if (v.is_string()) return !v.get_ref<const std::string&>().empty();
  return !v.empty();
}


static std::string json_string(const std::string& s) { return Value(s).dump(-1, ' ', false, Value::error_handler_t::replace); }

std::string to_json(const Value& v, int depth) {
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

static std::string py_float(double d) {
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


std::string to_str(const Value& v, int depth) {
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

double num(const Value& v, const char* op) {
  if (!v.is_number() && !v.is_boolean()) runtime(std::string("'") + op + "' needs numbers, not a " + type_name(v));
  return v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>();
}

}  // namespace jinja
}  // namespace edgevl

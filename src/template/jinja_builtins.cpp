#include "template/jinja_builtins.h"

#include <cctype>
#include <cstdint>

#include "core/error.h"
#include "template/jinja_value.h"

namespace edgevl {
namespace jinja {

bool apply_test(const std::string& t, const Value& v) {
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

Value items(const Value& v) {
  if (!v.is_object()) runtime("items() of a " + type_name(v));
  Value r = Value::array();
  for (auto it = v.begin(); it != v.end(); ++it) r.push_back(Value::array({Value(it.key()), it.value()}));
  return r;
}

std::string strip(const std::string& s, const std::string& chars, bool left, bool right) {
  size_t a = 0, b = s.size();
  if (left)
    while (a < b && chars.find(s[a]) != std::string::npos) ++a;
  if (right)
    while (b > a && chars.find(s[b - 1]) != std::string::npos) --b;
  return s.substr(a, b - a);
}

Value apply_filter(const std::string& f, const Value& v, const std::vector<Value>& a, const Limits& limits) {
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
      if (s.size() > limits.max_output_bytes) runtime("string exceeds the output limit");
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

Value call_function(const std::string& name, const std::vector<Value>& a, const std::vector<std::string>& kwnames) {
  if (name == "namespace") {
    Value ns = Value::object();
    for (size_t i = 0; i < kwnames.size(); ++i) ns[kwnames[i]] = a[a.size() - kwnames.size() + i];
    return ns;
  }
  if (name == "raise_exception") runtime("the template raised an error: " + (a.empty() ? std::string() : to_str(a[0])));
  if (name == "range") {
    if (a.empty() || a.size() > 2) runtime("range() takes 1 or 2 arguments");
    const int64_t lo = a.size() == 2 ? static_cast<int64_t>(num(a[0], "range")) : 0;
    const int64_t hi = static_cast<int64_t>(num(a.back(), "range"));
    if (hi - lo > 100000) runtime("range() too long");
    Value r = Value::array();
    for (int64_t i = lo; i < hi; ++i) r.push_back(i);
    return r;
  }
  fail(ErrorCode::kUnsupported, "chat template: function '" + name + "' is not supported");
}

Value call_method(const Value& self, const std::string& m, const std::vector<Value>& a, const Limits& limits) {
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
        if (r.size() > limits.max_output_bytes) runtime("string exceeds the output limit");
        i = j + from.size();
      }
      return Value(r + s.substr(i));
    }
  }
  fail(ErrorCode::kUnsupported, "chat template: method '" + m + "' of a " + type_name(self) + " is not supported");
}

Limits limits_;
int64_t steps_ = 0;

}  // namespace jinja
}  // namespace edgevl

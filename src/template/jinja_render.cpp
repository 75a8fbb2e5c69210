#include "template/jinja_render.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "template/jinja_builtins.h"
#include "template/jinja_value.h"

namespace edgevl {
namespace jinja {

namespace {

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
      case Expr::Test: return Value(apply_test(e.name, eval(*e.args[0])) != e.negate);
      case Expr::Filter: return filter(e);
      case Expr::Call: return call(e);
    }
    runtime("bad expression");
  }


  std::vector<Value> args_of(const Expr& e, size_t first) {
    std::vector<Value> a;
    for (size_t i = first; i < e.args.size(); ++i) a.push_back(eval(*e.args[i]));
    return a;
  }

  Value filter(const Expr& e) {
    const Value v = eval(*e.args[0]);
    return apply_filter(e.name, v, args_of(e, 1), limits_);
  }

  Value call(const Expr& e) {
    if (e.value.is_boolean()) return call_function(e.name, args_of(e, 0), e.kwnames);  // a free function
    const Value self = eval(*e.args[0]);
    return call_method(self, e.name, args_of(e, 1), limits_);
  }

  Limits limits_;
  int64_t steps_ = 0;
  std::vector<std::map<std::string, Value>> scopes_;
};

}  // namespace

std::string render_template(const Node& root, const Limits& limits, const Value& context) {
  Renderer r(limits, context);
  r.run(root);
  return std::move(r.out);
}

}  // namespace jinja
}  // namespace edgevl

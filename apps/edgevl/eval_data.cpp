#include "eval_data.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace edgevl_cli {

namespace {

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws), e = s.find_last_not_of(ws);
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string dir_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

bool readable(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  std::fclose(f);
  return true;
}

const std::string& string_field(const nlohmann::json& obj, const char* key, const std::string& where) {
  const auto& v = obj.at(key);
  if (!v.is_string()) throw std::runtime_error(where + "\"" + key + "\" must be a string");
  return v.get_ref<const std::string&>();
}

EvalTurn parse_turn(const nlohmann::json& t, const std::string& where, const std::string& base) {
  if (!t.is_object()) throw std::runtime_error(where + "must be an object");
  for (const auto& kv : t.items())
    if (kv.key() != "image" && kv.key() != "question" && kv.key() != "answer" && kv.key() != "type")
      throw std::runtime_error(where + "unknown field \"" + kv.key() + "\" (expected image, question, answer, type)");
  if (!t.contains("question")) throw std::runtime_error(where + "missing \"question\"");
  if (!t.contains("answer")) throw std::runtime_error(where + "missing \"answer\"");
  EvalTurn turn;
  turn.question = string_field(t, "question", where);
  const auto& a = t.at("answer");
  if (a.is_string()) {
    turn.answers.push_back(a.get<std::string>());
  } else if (a.is_array() && !a.empty()) {
    for (const auto& x : a) {
      if (!x.is_string()) throw std::runtime_error(where + "\"answer\" must be a string or an array of strings");
      turn.answers.push_back(x.get<std::string>());
    }
  } else {
    throw std::runtime_error(where + "\"answer\" must be a string or a non-empty array of strings");
  }
  turn.type = t.contains("type") ? string_field(t, "type", where) : "unknown";
  if (t.contains("image")) {
    const std::string& rel = string_field(t, "image", where);
    if (rel.empty()) throw std::runtime_error(where + "\"image\" is empty");
    turn.image = rel[0] == '/' ? rel : base + rel;
    if (!readable(turn.image)) throw std::runtime_error(where + "image " + turn.image + " cannot be opened");
  }
  return turn;
}

EvalDialogue parse_line(const std::string& line, const std::string& base) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw std::runtime_error("the line must hold a JSON object");
  for (const auto& kv : j.items())
    if (kv.key() != "turns" && kv.key() != "id" && kv.key() != "lang")
      throw std::runtime_error("unknown field \"" + kv.key() + "\" (expected turns, id, lang)");
  EvalDialogue d;
  if (j.contains("id")) d.id = string_field(j, "id", "");
  if (j.contains("lang")) d.lang = string_field(j, "lang", "");
  if (!j.contains("turns") || !j["turns"].is_array() || j["turns"].empty())
    throw std::runtime_error("\"turns\" must be a non-empty array");
  const auto& turns = j["turns"];
  for (size_t i = 0; i < turns.size(); ++i)
    d.turns.push_back(parse_turn(turns[i], "turn " + std::to_string(i + 1) + ": ", base));
  return d;
}

}  // namespace

EvalSet read_eval_set(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  EvalSet set;
  const std::string base = dir_of(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (trim(line).empty()) continue;
    try {
      EvalDialogue d = parse_line(line, base);
      d.line = n;
      set.dialogues.push_back(std::move(d));
    } catch (const std::exception& e) {
      set.problems.push_back({n, e.what()});
    }
  }
  if (in.bad()) throw std::runtime_error(path + ": read error");
  return set;
}

bool answer_matches(const std::string& reply, const std::vector<std::string>& answers) {
  const std::string r = trim(reply);
  for (const auto& a : answers)
    if (trim(a) == r) return true;
  return false;
}

}  // namespace edgevl_cli

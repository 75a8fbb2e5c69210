#include "formats/chat_template_source.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/mmap_file.h"

namespace edgevl {

namespace {

bool is_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The "chat_template" field of a JSON file ("" when absent).
std::string template_field(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail_format(path + ": invalid JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("chat_template") || j["chat_template"].is_null()) return "";
  const auto& t = j["chat_template"];
  if (t.is_string()) return t.get<std::string>();
  if (t.is_array()) {  // named templates: [{"name": "default", "template": "..."}, ...]
    for (const auto& e : t)
      if (e.is_object() && e.contains("name") && e["name"] == "default" && e.contains("template") && e["template"].is_string())
        return e["template"].get<std::string>();
    return "";
  }
  fail_format(path + ": chat_template must be a string or a list of named templates");
}

}  // namespace

std::string read_hf_chat_template(const std::string& dir) {
  if (is_file(dir + "/chat_template.jinja")) return read_text_file(dir + "/chat_template.jinja");
  for (const char* name : {"/chat_template.json", "/tokenizer_config.json"}) {
    const std::string p = dir + name;
    if (!is_file(p)) continue;
    std::string t = template_field(p);
    if (!t.empty()) return t;
  }
  return "";
}

}  // namespace edgevl

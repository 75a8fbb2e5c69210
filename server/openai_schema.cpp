#include "openai_schema.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "api_error.h"
#include "sha256.h"

using nlohmann::json;

namespace edgevl_server {

namespace {

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    case json::value_t::discarded: return "invalid";
    default: return "number";
  }
}

[[noreturn]] void wrong_type(const std::string& param, const char* expected, const json& got) {
  throw bad_request("invalid_type", "'" + param + "' must be " + expected + ", not " + type_name(got), param);
}

// Optional numeric field in [lo, hi]; absent or null = not set.
std::optional<double> number_in(const json& o, const char* name, double lo, double hi, bool lo_open = false) {
  auto it = o.find(name);
  if (it == o.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) wrong_type(name, "a number", *it);
  const double v = it->get<double>();
  if (!std::isfinite(v) || v > hi || v < lo || (lo_open && v == lo)) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "'%s' must be in %s%g, %g]", name, lo_open ? "(" : "[", lo, hi);
    throw bad_request("invalid_value", buf, name);
  }
  return v;
}

std::optional<int64_t> integer_in(const json& o, const char* name, int64_t lo, int64_t hi) {
  auto it = o.find(name);
  if (it == o.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer() && !it->is_number_unsigned()) wrong_type(name, "an integer", *it);
  if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
    throw bad_request("invalid_value", std::string("'") + name + "' is out of range", name);
  const int64_t v = it->get<int64_t>();
  if (v < lo || v > hi)
    throw bad_request("invalid_value", std::string("'") + name + "' must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", name);
  return v;
}

bool parse_role(const std::string& s, ChatMessage& m) {
  if (s == "system" || s == "developer") m.role = EDGEVL_ROLE_SYSTEM, m.role_name = "system";
  else if (s == "user") m.role = EDGEVL_ROLE_USER, m.role_name = "user";
  else if (s == "assistant") m.role = EDGEVL_ROLE_ASSISTANT, m.role_name = "assistant";
  else if (s == "tool") m.role = EDGEVL_ROLE_TOOL, m.role_name = "tool";
  else return false;
  return true;
}

void add_text(ChatMessage& m, const std::string& text) {
  // Adjacent text parts are concatenated (as the chat template does), so that a reply
  // echoed back as a string and as an array of parts gives the same key.
  if (!m.parts.empty() && !m.parts.back().is_image) m.parts.back().text += text;
  else m.parts.push_back({false, text, nullptr});
}

void parse_content(const json& c, ChatMessage& m, const std::string& p, const RequestLimits& limits, size_t& n_images) {
  if (c.is_null()) {
    if (m.role != EDGEVL_ROLE_ASSISTANT) throw bad_request("invalid_value", "'" + p + "' may be null only for assistant messages", p);
    return;
  }
  if (c.is_string()) {
    add_text(m, c.get<std::string>());
    return;
  }
  if (!c.is_array()) wrong_type(p, "a string or an array of content parts", c);
  for (size_t k = 0; k < c.size(); ++k) {
    const json& part = c[k];
    const std::string pp = p + "[" + std::to_string(k) + "]";
    if (!part.is_object()) wrong_type(pp, "an object", part);
    auto type = part.find("type");
    if (type == part.end() || !type->is_string()) throw bad_request("invalid_value", "'" + pp + ".type' must be a string", pp + ".type");
    const std::string t = type->get<std::string>();
    if (t == "text") {
      auto text = part.find("text");
      if (text == part.end() || !text->is_string()) throw bad_request("invalid_value", "'" + pp + ".text' must be a string", pp + ".text");
      add_text(m, text->get<std::string>());
    } else if (t == "image_url") {
      if (m.role != EDGEVL_ROLE_USER) throw bad_request("invalid_value", "images are accepted only in user messages", pp);
      auto iu = part.find("image_url");
      std::string url;
      if (iu != part.end() && iu->is_string()) url = iu->get<std::string>();
      else if (iu != part.end() && iu->is_object() && iu->contains("url") && (*iu)["url"].is_string()) url = (*iu)["url"].get<std::string>();
      else throw bad_request("invalid_value", "'" + pp + ".image_url.url' must be a string", pp + ".image_url.url");
      if (++n_images > limits.max_images)
        throw bad_request("too_many_images", "too many images: at most " + std::to_string(limits.max_images) + " per request", pp);
      m.parts.push_back({true, "", load_image_url(url, limits.image, pp + ".image_url.url")});
    } else {
      throw bad_request("invalid_value", "unsupported content part type '" + t + "' (expected text or image_url)", pp + ".type");
    }
  }
}

ChatMessage parse_message(const json& j, size_t i, const RequestLimits& limits, size_t& n_images) {
  const std::string p = "messages[" + std::to_string(i) + "]";
  if (!j.is_object()) wrong_type(p, "an object", j);
  auto role = j.find("role");
  if (role == j.end()) throw bad_request("missing_field", "'" + p + ".role' is required", p + ".role");
  if (!role->is_string()) wrong_type(p + ".role", "a string", *role);
  ChatMessage m;
  if (!parse_role(role->get<std::string>(), m))
    throw bad_request("invalid_role", "unknown role '" + role->get<std::string>() + "' in " + p + " (expected system, user, assistant or tool)",
                      p + ".role");
  auto content = j.find("content");
  if (content == j.end()) {
    if (m.role != EDGEVL_ROLE_ASSISTANT) throw bad_request("missing_field", "'" + p + ".content' is required", p + ".content");
  } else {
    parse_content(*content, m, p + ".content", limits, n_images);
  }
  compute_key(m);
  return m;
}

}  // namespace

void compute_key(ChatMessage& m) {
  Sha256 h;
  h.update(m.role_name).update("\n", 1);
  for (const auto& part : m.parts) {
    // Length-prefixed so that no text can imitate a part boundary.
    if (part.is_image) h.update("i").update(part.image->sha256);
    else h.update("t" + std::to_string(part.text.size()) + ":").update(part.text);
  }
  m.key = h.hex();
}

std::string assistant_text_key(const std::string& text) {
  ChatMessage m;
  m.role = EDGEVL_ROLE_ASSISTANT;
  m.role_name = "assistant";
  if (!text.empty()) m.parts.push_back({false, text, nullptr});
  compute_key(m);
  return m.key;
}

ChatRequest parse_chat_request(const std::string& body, const RequestLimits& limits) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) throw bad_request("invalid_json", "the request body is not valid JSON");
  if (!j.is_object()) throw bad_request("invalid_json", std::string("the request body must be a JSON object, not ") + type_name(j));

  ChatRequest r;
  if (auto it = j.find("model"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) wrong_type("model", "a string", *it);
    r.model = it->get<std::string>();
  }
  auto msgs = j.find("messages");
  if (msgs == j.end() || msgs->is_null()) throw bad_request("missing_field", "'messages' is required", "messages");
  if (!msgs->is_array()) wrong_type("messages", "an array", *msgs);
  if (msgs->empty()) throw bad_request("invalid_value", "'messages' must not be empty", "messages");
  for (size_t i = 0; i < msgs->size(); ++i) r.messages.push_back(parse_message((*msgs)[i], i, limits, r.n_images));
  // The reply answers the last message; the C API generates only after a user or tool turn.
  const ChatMessage& last = r.messages.back();
  if (last.role != EDGEVL_ROLE_USER && last.role != EDGEVL_ROLE_TOOL)
    throw bad_request("invalid_value", "the last message must be a user or tool message, not " + last.role_name,
                      "messages[" + std::to_string(msgs->size() - 1) + "].role");

  auto mt = integer_in(j, "max_completion_tokens", 1, limits.max_tokens_cap);
  if (!mt) mt = integer_in(j, "max_tokens", 1, limits.max_tokens_cap);
  if (mt) r.max_tokens = int32_t(*mt);
  if (auto v = number_in(j, "temperature", 0, 2)) r.temperature = float(*v);
  if (auto v = number_in(j, "top_p", 0, 1, /*lo_open=*/true)) r.top_p = float(*v);
  if (auto v = number_in(j, "presence_penalty", -2, 2)) r.presence_penalty = float(*v);
  if (auto v = number_in(j, "frequency_penalty", -2, 2)) r.frequency_penalty = float(*v);
  if (auto v = integer_in(j, "top_k", 0, 1000000)) r.top_k = int32_t(*v);
  if (auto it = j.find("seed"); it != j.end() && !it->is_null()) {
    if (it->is_number_unsigned()) r.seed = it->get<uint64_t>();
    else if (it->is_number_integer()) r.seed = uint64_t(it->get<int64_t>());
    else wrong_type("seed", "an integer", *it);
  }
  (void)integer_in(j, "n", 1, 1);  // one choice per request
  if (auto it = j.find("logprobs"); it != j.end() && it->is_boolean() && it->get<bool>())
    throw bad_request("unsupported_parameter", "logprobs are not supported", "logprobs");
  if (auto it = j.find("stream"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean()) wrong_type("stream", "a boolean", *it);
    r.stream = it->get<bool>();
  }
  if (auto it = j.find("stream_options"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) wrong_type("stream_options", "an object", *it);
    if (auto iu = it->find("include_usage"); iu != it->end() && !iu->is_null()) {
      if (!iu->is_boolean()) wrong_type("stream_options.include_usage", "a boolean", *iu);
      r.include_usage = iu->get<bool>();
    }
  }
  if (auto it = j.find("stop"); it != j.end() && !it->is_null()) {
    if (it->is_string()) r.stop.push_back(it->get<std::string>());
    else if (it->is_array()) {
      if (it->size() > 4) throw bad_request("invalid_value", "'stop' takes at most 4 sequences", "stop");
      for (const auto& s : *it) {
        if (!s.is_string()) wrong_type("stop[]", "a string", s);
        r.stop.push_back(s.get<std::string>());
      }
    } else {
      wrong_type("stop", "a string or an array of strings", *it);
    }
    for (const auto& s : r.stop)
      if (s.empty() || s.size() > 256) throw bad_request("invalid_value", "stop sequences must be 1 to 256 bytes long", "stop");
  }
  return r;
}

}  // namespace edgevl_server

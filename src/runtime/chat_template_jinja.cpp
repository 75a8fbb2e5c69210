// ChatTemplate::from_jinja: the role framing a model's own Jinja chat template writes,
// found by rendering probe conversations whose contents are marker words, then checked
// by rendering whole multi-turn conversations (images, several text parts, system and
// tool messages) and comparing them with what the framing composes message by message.
// A session appends each turn to a kept KV cache, so a template is only used when that
// incremental text is exactly what the template renders for the whole conversation.
#include <string>
#include <vector>

#include "core/error.h"
#include "runtime/chat_template.h"
#include "template/jinja.h"

namespace edgevl {

namespace {

using jinja::Value;

// Marker contents: single words, so templates that strip or split content keep them whole.
const char* const kSys = "edgevlProbeSystem";
const char* const kUser = "edgevlProbeUser";
const char* const kUser2 = "edgevlProbeUserTwo";
const char* const kUser3 = "edgevlProbeUserThree";
const char* const kReply = "edgevlProbeReply";
const char* const kReply2 = "edgevlProbeReplyTwo";
const char* const kTool = "edgevlProbeTool";

// Probes are tiny; a template that needs more than this for them is not a chat template.
jinja::Limits probe_limits() {
  jinja::Limits l;
  l.max_output_bytes = size_t{1} << 20;
  l.max_steps = 200'000;
  return l;
}

[[noreturn]] void unusable(const std::string& why) { fail(ErrorCode::kUnsupported, "chat template: " + why); }

// A probe message: text parts and images ("" in `texts` stands for an image).
struct ProbeMessage {
  Role role;
  std::vector<std::string> parts;  // text, or "" for an image
  bool as_string = false;          // content as a plain string (text only) instead of parts
};

Value to_value(const ProbeMessage& m) {
  Value v = Value::object();
  v["role"] = role_name(m.role);
  if (m.as_string) {
    v["content"] = m.parts.empty() ? std::string() : m.parts[0];
    return v;
  }
  Value parts = Value::array();
  for (const std::string& p : m.parts) parts.push_back(p.empty() ? Value{{"type", "image"}} : Value{{"type", "text"}, {"text", p}});
  v["content"] = parts;
  return v;
}

std::string render(const jinja::Template& t, const std::vector<ProbeMessage>& msgs, bool add_generation_prompt) {
  Value list = Value::array();
  for (const auto& m : msgs) list.push_back(to_value(m));
  return t.render(Value{{"messages", list}, {"add_generation_prompt", add_generation_prompt}});
}

// What `longer` (a conversation with one more message) adds to `shorter`.
std::string delta(const std::string& shorter, const std::string& longer, const std::string& what) {
  if (longer.compare(0, shorter.size(), shorter) != 0)
    unusable(what + " changes the text rendered before it, so turns cannot be appended to a kept conversation");
  return longer.substr(shorter.size());
}

// framed = prefix + content + suffix.
void split_around(const std::string& framed, const std::string& content, std::string& prefix, std::string& suffix, const std::string& what) {
  const size_t at = framed.find(content);
  if (at == std::string::npos || framed.find(content, at + 1) != std::string::npos)
    unusable(what + " does not render its content once, as written");
  prefix = framed.substr(0, at);
  suffix = framed.substr(at + content.size());
}

}  // namespace

// The text a session writes for these messages, message by message (see session.cpp and
// the server's between()): an assistant message that answers a user/tool message opens
// with the generation prompt, like a generated reply.
static std::string compose(const ChatTemplate& t, const std::vector<ProbeMessage>& msgs, bool add_generation_prompt) {
  std::string out = !msgs.empty() && msgs[0].role == Role::System ? "" : t.system_block();
  bool prev_generates = false;
  for (const auto& m : msgs) {
    out += m.role == Role::Assistant && prev_generates ? t.generation_prompt() : t.prefix(m.role);
    for (const auto& p : m.parts) out += p.empty() ? kChatImageText : p;
    out += t.suffix(m.role);
    prev_generates = role_generates(m.role);
  }
  if (add_generation_prompt && prev_generates) out += t.generation_prompt();
  return out;
}

ChatTemplate ChatTemplate::from_jinja(const std::string& source) {
  const jinja::Template tmpl = jinja::Template::parse(source, probe_limits());
  ChatTemplate t = chatml();  // keeps the stop text; every framing string is replaced below
  const ProbeMessage sys{Role::System, {kSys}, true}, user{Role::User, {kUser}, true}, reply{Role::Assistant, {kReply}, true},
      tool{Role::Tool, {kTool}, true};
  auto frame = [&](Role r, const std::string& framed, const char* content, const char* what) {
    split_around(framed, content, t.prefix_[int(r)], t.suffix_[int(r)], what);
  };

  const std::string r_s = render(tmpl, {sys}, false);
  frame(Role::System, r_s, kSys, "a system message");
  const std::string r_su = render(tmpl, {sys, user}, false);
  frame(Role::User, delta(r_s, r_su, "a user message"), kUser, "a user message");
  t.generation_prompt_ = delta(r_su, render(tmpl, {sys, user}, true), "add_generation_prompt");
  frame(Role::Assistant, delta(r_s, render(tmpl, {sys, reply}, false), "an assistant message"), kReply, "an assistant message");
  const std::string r_sua = render(tmpl, {sys, user, reply}, false);
  frame(Role::Tool, delta(r_sua, render(tmpl, {sys, user, reply, tool}, false), "a tool message"), kTool, "a tool message");
  // The default system block: whatever precedes a first user message.
  const std::string r_u = render(tmpl, {user}, false), framed_user = t.prefix(Role::User) + kUser + t.suffix(Role::User);
  if (r_u.size() < framed_user.size() || r_u.compare(r_u.size() - framed_user.size(), framed_user.size(), framed_user) != 0)
    unusable("a user message without a system message before it is framed differently");
  t.system_block_ = r_u.substr(0, r_u.size() - framed_user.size());

  // Whole conversations must read exactly as the framing composes them.
  const std::vector<std::vector<ProbeMessage>> conversations = {
      {{Role::User, {"", kUser}}},
      {{Role::User, {kUser}, true},
       {Role::Assistant, {kReply}, true},
       {Role::User, {kUser2, kUser3}},
       {Role::Assistant, {kReply2}},
       {Role::User, {"", "", kUser3}}},
      {{Role::System, {kSys}}, {Role::User, {"", kUser}}, {Role::Assistant, {kReply}}, {Role::User, {kUser2}, true}},
      {{Role::User, {kUser}}, {Role::Assistant, {kReply}}, {Role::Tool, {kTool}, true}},
  };
  for (const auto& conv : conversations) {
    const std::string want = render(tmpl, conv, true), got = compose(t, conv, true);
    if (want != got) {
      size_t at = 0;
      while (at < want.size() && at < got.size() && want[at] == got[at]) ++at;
      unusable("a " + std::to_string(conv.size()) + "-message conversation renders \"" + want.substr(at, 40) +
               "\" where its messages framed one by one give \"" + got.substr(at, 40) + "\" (an image must render as " +
               kChatImageText + ")");
    }
  }
  return t;
}

}  // namespace edgevl

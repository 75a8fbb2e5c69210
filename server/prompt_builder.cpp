#include "prompt_builder.h"

#include "runtime/chat_template.h"

namespace edgevl_server {

namespace {

// edgevl_role and edgevl::Role number the roles alike (system, user, assistant, tool).
edgevl::Role role_of(edgevl_role r) { return static_cast<edgevl::Role>(int(r)); }

bool generates(edgevl_role r) { return edgevl::role_generates(role_of(r)); }

// Messages [begin, end) as one message with the role of the first; the runtime writes
// the first header and the closing generation prompt, the framing between the messages
// comes from the chat template.
std::unique_ptr<BuiltMessage> build(const std::vector<ChatMessage>& msgs, size_t begin, size_t end, bool literal,
                                    const edgevl::ChatTemplate& tmpl) {
  auto out = std::make_unique<BuiltMessage>();
  // Framing is always parsed for control tokens; message content only when the server
  // runs with --parse-special.
  auto add_text = [&](std::string text, bool content) {
    if (text.empty()) return;
    out->texts.push_back(std::move(text));
    out->parts.push_back(content && literal ? edgevl_part_literal_text(out->texts.back().c_str()) : edgevl_part_text(out->texts.back().c_str()));
  };
  for (size_t i = begin; i < end; ++i) {
    const ChatMessage& m = msgs[i];
    if (i > begin) add_text(tmpl.between(role_of(msgs[i - 1].role), role_of(m.role)), false);
    for (const auto& p : m.parts) {
      if (p.is_image) out->parts.push_back(edgevl_part_image_bytes(p.image->bytes.data(), p.image->bytes.size()));
      else add_text(p.text, true);
    }
  }
  if (out->parts.empty()) {  // an empty message is still a turn
    out->texts.emplace_back();
    out->parts.push_back(edgevl_part_text(out->texts.back().c_str()));
  }
  out->message.role = msgs[begin].role;
  out->message.parts = out->parts.data();
  out->message.n_parts = out->parts.size();
  out->end = end;
  return out;
}

}  // namespace

std::vector<std::unique_ptr<BuiltMessage>> plan_runs(const std::vector<ChatMessage>& msgs, size_t first, bool literal,
                                                   const edgevl::ChatTemplate& tmpl) {
  std::vector<std::unique_ptr<BuiltMessage>> runs;
  size_t i = first;
  for (; i < msgs.size() && !generates(msgs[i].role); ++i) runs.push_back(build(msgs, i, i + 1, literal, tmpl));
  if (i < msgs.size()) runs.push_back(build(msgs, i, msgs.size(), literal, tmpl));
  return runs;
}

}  // namespace edgevl_server

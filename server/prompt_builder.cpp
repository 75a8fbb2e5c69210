#include "prompt_builder.h"

namespace edgevl_server {

namespace {

bool generates(edgevl_role r) { return r == EDGEVL_ROLE_USER || r == EDGEVL_ROLE_TOOL; }

// Messages [begin, end) as one message with the role of the first; the runtime writes
// the first header and the closing generation prompt, the rest of the framing is here.
std::unique_ptr<BuiltMessage> build(const std::vector<ChatMessage>& msgs, size_t begin, size_t end) {
  auto out = std::make_unique<BuiltMessage>();
  std::string text;
  auto flush_text = [&] {
    if (text.empty()) return;
    out->texts.push_back(std::move(text));
    out->parts.push_back(edgevl_part_text(out->texts.back().c_str()));
    text.clear();
  };
  for (size_t i = begin; i < end; ++i) {
    const ChatMessage& m = msgs[i];
    if (i > begin) text += "<|im_start|>" + m.role_name + "\n";
    for (const auto& p : m.parts) {
      if (!p.is_image) {
        text += p.text;
        continue;
      }
      flush_text();
      out->parts.push_back(edgevl_part_image_bytes(p.image->bytes.data(), p.image->bytes.size()));
    }
    if (i + 1 < end) text += "<|im_end|>\n";
  }
  flush_text();
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

std::vector<std::unique_ptr<BuiltMessage>> plan_runs(const std::vector<ChatMessage>& msgs, size_t first) {
  std::vector<std::unique_ptr<BuiltMessage>> runs;
  size_t i = first;
  for (; i < msgs.size() && !generates(msgs[i].role); ++i) runs.push_back(build(msgs, i, i + 1));
  if (i < msgs.size()) runs.push_back(build(msgs, i, msgs.size()));
  return runs;
}

}  // namespace edgevl_server

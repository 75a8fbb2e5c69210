#include "prompt_builder.h"

namespace edgevl_server {

void build_message(const std::vector<ChatMessage>& msgs, size_t first, BuiltMessage& out) {
  out.parts.clear();
  out.texts.clear();
  out.n_images = 0;
  std::string text;
  auto flush_text = [&] {
    if (text.empty()) return;
    out.texts.push_back(std::move(text));
    out.parts.push_back(edgevl_part_text(out.texts.back().c_str()));
    text.clear();
  };
  const edgevl_role run_role = msgs[first].role;
  for (size_t i = first; i < msgs.size(); ++i) {
    const ChatMessage& m = msgs[i];
    // The runtime writes the header of the first message; the others get theirs here.
    if (i > first) text += "<|im_start|>" + m.role_name + "\n";
    for (const auto& p : m.parts) {
      if (!p.is_image) {
        text += p.text;
        continue;
      }
      flush_text();
      out.parts.push_back(edgevl_part_image_bytes(p.image->bytes.data(), p.image->bytes.size()));
      ++out.n_images;
    }
    if (i + 1 < msgs.size()) text += "<|im_end|>\n";
  }
  // An assistant-role message is left open by the runtime (it continues it); the reply
  // must be a new assistant turn, as after any other role.
  if (run_role == EDGEVL_ROLE_ASSISTANT) text += "<|im_end|>\n<|im_start|>assistant\n";
  flush_text();
  if (out.parts.empty()) {  // an empty message is still a turn
    out.texts.emplace_back();
    out.parts.push_back(edgevl_part_text(out.texts.back().c_str()));
  }
  out.message.role = run_role;
  out.message.parts = out.parts.data();
  out.message.n_parts = out.parts.size();
}

}  // namespace edgevl_server

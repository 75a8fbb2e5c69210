// Builds the one edgevl_message that brings a session from the conversation it holds
// to the end of the request.
//
// The C API renders a message as "<|im_start|>ROLE\n" + content and, unless ROLE is
// assistant, closes it with "<|im_end|>\n<|im_start|>assistant\n" before generating.
// It has no way to append an assistant turn without generating one, so several new
// messages (e.g. a whole history replayed into a fresh session, or a client-supplied
// assistant turn) are written as the content of one message: the ChatML framing between
// them is written here, exactly as Qwen2-VL's chat template would write it. The result
// is the same token sequence as the template with add_generation_prompt, and one
// prefill instead of many runs.
#pragma once
#include <list>
#include <string>
#include <vector>

#include "chat_request.h"
#include "edgevl.h"

namespace edgevl_server {

struct BuiltMessage {
  edgevl_message message{};
  std::vector<edgevl_part> parts;
  std::list<std::string> texts;  // owns the text the parts point at (stable addresses)
  size_t n_images = 0;
};

// msgs[first..] must be non-empty.
void build_message(const std::vector<ChatMessage>& msgs, size_t first, BuiltMessage& out);

}  // namespace edgevl_server

// Plans the edgevl_run calls that bring a session from the conversation it holds to the
// end of a request, writing exactly what the session's chat template writes (the model's
// own template, or the built-in ChatML; see src/runtime/chat_template.h).
//
// The C API renders a message as its turn: a user or tool message as prefix + content +
// suffix + the generation prompt (ChatML: "<|im_start|>ROLE\n" + content +
// "<|im_end|>\n<|im_start|>assistant\n") and then a generated reply; a system or
// assistant message as prefix + content + suffix with no reply. So a user message
// followed by a given (client-supplied) assistant message cannot be two runs: the first
// would generate its own reply. Instead, everything from the first user/tool message on
// goes into ONE message, with the framing between the messages taken from the session's
// chat template (the one it renders with, so joined messages read exactly as separate
// turns would); leading system/assistant messages (before any user message) are runs of
// their own. A system message sent first replaces the default system prompt, as the
// template's does. The token sequence is the template's with add_generation_prompt, and
// a whole history costs one prefill (plus one per leading system/assistant message).
#pragma once
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "chat_request.h"
#include "edgevl.h"
#include "runtime/chat_template.h"

namespace edgevl_server {

struct BuiltMessage {
  edgevl_message message{};
  std::vector<edgevl_part> parts;
  std::list<std::string> texts;  // owns the text the parts point at (stable addresses)
  size_t end = 0;                // index in the request's messages after this step
};

// The runs for msgs[first..], in order; only the last one generates. msgs.back() must
// be a user or tool message (the request parser ensures it). literal: message content
// goes as EDGEVL_PART_LITERAL_TEXT (its "<|im_end|>" etc. are plain text), else as
// EDGEVL_PART_TEXT (control tokens parsed).
std::vector<std::unique_ptr<BuiltMessage>> plan_runs(const std::vector<ChatMessage>& msgs, size_t first, bool literal,
                                                   const edgevl::ChatTemplate& tmpl);

}  // namespace edgevl_server

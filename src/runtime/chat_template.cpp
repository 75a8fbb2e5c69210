#include "runtime/chat_template.h"

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace edgevl {

static const char* const kRoleNames[] = {"system", "user", "assistant", "tool"};

Role parse_role(const std::string& name) {
  for (int i = 0; i < 4; ++i)
    if (name == kRoleNames[i]) return Role(i);
  fail(ErrorCode::kInvalidArgument, "unknown role '" + name + "' (expected system, user, assistant or tool)");
}

const char* role_name(Role r) { return kRoleNames[int(r)]; }

ChatTemplate ChatTemplate::chatml(const std::string& system_prompt) {
  ChatTemplate t;
  for (int i = 0; i < 4; ++i) {
    t.prefix_[i] = std::string("<|im_start|>") + kRoleNames[i] + "\n";
    t.suffix_[i] = "<|im_end|>\n";
  }
  t.generation_prompt_ = "<|im_start|>assistant\n";
  t.stop_text_ = "<|im_end|>";
  t.system_block_ = t.system_block_for(system_prompt);
  return t;
}

std::string ChatTemplate::system_block_for(const std::string& prompt) const {
  return prefix(Role::System) + prompt + suffix(Role::System);
}

static bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

void ChatTemplate::set_rkllm(const std::string* system_block, const std::string* prompt_prefix, const std::string* prompt_postfix) {
  for (const std::string* s : {system_block, prompt_prefix, prompt_postfix})
    if (s && !is_valid_utf8(*s)) fail(ErrorCode::kInvalidArgument, "chat template strings must be valid UTF-8");
  if (system_block) system_block_ = *system_block;
  if (prompt_prefix) prefix_[int(Role::User)] = *prompt_prefix;
  if (prompt_postfix) {
    if (!generation_prompt_.empty() && ends_with(*prompt_postfix, generation_prompt_)) {
      suffix_[int(Role::User)] = prompt_postfix->substr(0, prompt_postfix->size() - generation_prompt_.size());
    } else {
      suffix_[int(Role::User)] = *prompt_postfix;
      generation_prompt_.clear();
    }
  }
}

std::string ChatTemplate::reply_close(bool model_emitted_stop) const {
  const std::string& s = suffix(Role::Assistant);
  if (model_emitted_stop && !stop_text_.empty() && s.compare(0, stop_text_.size(), stop_text_) == 0) return s.substr(stop_text_.size());
  return s;
}

std::string ChatTemplate::between(Role prev, Role next) const {
  return suffix(prev) + (next == Role::Assistant && role_generates(prev) ? generation_prompt_ : prefix(next));
}

bool ChatTemplate::operator==(const ChatTemplate& o) const {
  for (int i = 0; i < kFieldCount; ++i)
    if (field(i) != o.field(i)) return false;
  return true;
}

std::string ChatTemplate::field(int i) const {
  if (i < 4) return prefix_[i];
  if (i < 8) return suffix_[i - 4];
  if (i == 8) return generation_prompt_;
  if (i == 9) return system_block_;
  return stop_text_;
}

void ChatTemplate::set_field(int i, std::string v) {
  if (!is_valid_utf8(v)) fail(ErrorCode::kInvalidArgument, "chat template strings must be valid UTF-8");
  if (i < 4) prefix_[i] = std::move(v);
  else if (i < 8) suffix_[i - 4] = std::move(v);
  else if (i == 8) generation_prompt_ = std::move(v);
  else if (i == 9) system_block_ = std::move(v);
  else stop_text_ = std::move(v);
}

}  // namespace edgevl

// All role framing of a conversation in one place: the text written before and after
// each message by role, the prompt that opens a reply, the default system block. The
// session renders every message through it, the server builds its multi-message runs
// with it, and edgevl_set_chat_template changes it, so the three never disagree.
//
// A model's default framing comes from its own Jinja chat template (from_jinja): the
// strings are what that template renders around each message, and are used only when
// whole multi-turn conversations render exactly as those strings compose them, so that a
// session can append each turn to its KV cache. Otherwise (and for models without a
// template) it is the built-in ChatML, as in the Qwen2-VL chat template:
//   <|im_start|>system\nPROMPT<|im_end|>\n
//   <|im_start|>user\nTEXT<|im_end|>\n<|im_start|>assistant\nREPLY<|im_end|>\n
// A message of role R reads prefix(R) + content + suffix(R); a message the model answers
// (user, tool) is followed by generation_prompt; a generated reply is closed by
// suffix(Assistant). An image reads as kChatImageText, whose <|image_pad|> the session
// expands to the image's tokens. Template strings are parsed for special tokens (they are
// framing); user content can be marked literal (ContentPart::literal) so it never is.
#pragma once
#include <string>

namespace edgevl {

struct ModelConfig;

// The system prompt Qwen2-VL's and Qwen2.5-VL's official templates add when a conversation
// has no system message.
inline constexpr const char* kDefaultSystemPrompt = "You are a helpful assistant.";

// How a chat template writes an image part; the session turns it into the vision
// start/end tokens around the image's <|image_pad|> tokens.
inline constexpr const char* kChatImageText = "<|vision_start|><|image_pad|><|vision_end|>";

enum class Role { System = 0, User = 1, Assistant = 2, Tool = 3 };

// "system" | "user" | "assistant" | "tool" -> Role; anything else throws kInvalidArgument.
Role parse_role(const std::string& name);
const char* role_name(Role r);
// Whether a message of this role asks the model for a reply (user, tool).
inline bool role_generates(Role r) { return r == Role::User || r == Role::Tool; }

class ChatTemplate {
 public:
  // ChatML with this system prompt as the default system block.
  static ChatTemplate chatml(const std::string& system_prompt = kDefaultSystemPrompt);
  // What the model's official template renders without a system message: Qwen2-VL and
  // Qwen2.5-VL add kDefaultSystemPrompt, Qwen3-VL adds no system block.
  static ChatTemplate model_default(const ModelConfig& cfg);
  // The framing a model's own Jinja chat template renders (Hugging Face
  // tokenizer_config.json / chat_template.json, GGUF tokenizer.chat_template), with
  // messages {role, content: string or [{type: text, text} | {type: image}]} and
  // add_generation_prompt. Throws Error naming the construct or the conversation that
  // failed: kUnsupported when the template uses something outside the Jinja subset
  // (template/jinja.h) or does not render conversations as per-message framing (e.g. it
  // rewrites earlier turns), kFormat for a syntax error, kInvalidArgument when it raises
  // an error or exceeds the renderer's limits.
  static ChatTemplate from_jinja(const std::string& source);

  // Replaces the default system block with this prompt in the template's system framing.
  void set_system_prompt(const std::string& prompt) { system_block_ = system_block_for(prompt); }

  // RKLLM-style override (edgevl_set_chat_template): a null argument keeps the current
  // value. system_block is the whole system part, tags included ("" = no system block).
  // prompt_prefix goes before a user message's content; prompt_postfix after it, up to
  // the start of the reply: if it ends with generation_prompt() that tail stays the
  // generation prompt and the rest becomes the user suffix, otherwise the whole postfix
  // is the user suffix and the generation prompt becomes empty. Other roles keep their
  // framing. Throws kInvalidArgument if a string is not valid UTF-8.
  void set_rkllm(const std::string* system_block, const std::string* prompt_prefix, const std::string* prompt_postfix);

  const std::string& prefix(Role r) const { return prefix_[int(r)]; }
  const std::string& suffix(Role r) const { return suffix_[int(r)]; }
  const std::string& generation_prompt() const { return generation_prompt_; }
  // The system block used when the conversation does not start with a system message.
  const std::string& system_block() const { return system_block_; }
  // A whole system block for this prompt: prefix(System) + prompt + suffix(System).
  std::string system_block_for(const std::string& prompt) const;

  // Text that follows a generated reply in history. When the model itself emitted the
  // stop token (stop_text(), "<|im_end|>"), only the rest of suffix(Assistant) is
  // appended ("\n"); otherwise (length limit, callback stop) the whole suffix.
  std::string reply_close(bool model_emitted_stop) const;
  const std::string& stop_text() const { return stop_text_; }

  // What goes between a message of role `prev` and the next one of role `next` inside
  // one rendered run: suffix(prev), then generation_prompt() when `next` is the
  // assistant answering `prev` (user/tool), else prefix(next). Used by the server to
  // join several OpenAI messages into one run.
  std::string between(Role prev, Role next) const;

  // The RKLLM view (what edgevl_set_chat_template set / what a session file stores).
  std::string rkllm_user_postfix() const { return suffix(Role::User) + generation_prompt_; }

  bool operator==(const ChatTemplate& o) const;
  bool operator!=(const ChatTemplate& o) const { return !(*this == o); }

  // Serialisation for session files: every string, in a fixed order.
  static constexpr int kFieldCount = 11;
  std::string field(int i) const;
  void set_field(int i, std::string v);

 private:
  std::string prefix_[4], suffix_[4];
  std::string generation_prompt_;
  std::string system_block_;
  std::string stop_text_;
};

}  // namespace edgevl

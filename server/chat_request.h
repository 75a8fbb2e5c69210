// A validated /v1/chat/completions request, in the server's own terms: the system
// prompt apart (it is a session parameter), the other messages with their content
// normalised (adjacent text merged, images decoded and hashed) and a content key per
// message, which is what the session pool compares to find a reusable KV cache.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "edgevl.h"

namespace edgevl_server {

struct ImageData {
  std::vector<uint8_t> bytes;  // the encoded file (PNG/JPEG/GIF/BMP), checked by magic
  std::string sha256;          // of bytes: the image's identity in conversation keys
};

struct ContentPart {
  bool is_image = false;
  std::string text;
  std::shared_ptr<const ImageData> image;
};

struct ChatMessage {
  edgevl_role role = EDGEVL_ROLE_USER;
  std::string role_name;  // as written in the chat template: system, user, assistant, tool
  std::vector<ContentPart> parts;
  std::string key;        // sha256 of role + content; equal keys = equal messages
};

// The key of an assistant message with this text: what a generated reply is
// recorded as, so that the client echoing it back matches.
std::string assistant_text_key(const std::string& text);
void compute_key(ChatMessage& m);

struct ChatRequest {
  std::optional<std::string> system_prompt;  // the first message, when it is a system message
  std::vector<ChatMessage> messages;         // the rest, in order (never empty)
  int32_t max_tokens = -1;                   // -1: the server default
  std::optional<float> temperature, top_p, presence_penalty, frequency_penalty;
  std::optional<int32_t> top_k;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  std::string model;
  size_t n_images = 0;

  // Identifies the system prompt for session matching ("" prompt and "no prompt" differ).
  std::string system_key() const { return system_prompt ? "s:" + *system_prompt : std::string("default"); }
};

}  // namespace edgevl_server

// A validated /v1/chat/completions request, in the server's own terms: the messages
// with their content normalised (adjacent text merged, images decoded and hashed) and a
// content key per message, which is what the session pool compares to find a reusable
// KV cache. A system message is a message like the others: sent to the session as a
// system turn, it replaces the default system prompt, exactly as the chat template does.
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
  std::vector<ChatMessage> messages;  // in order; the last is a user or tool message
  int32_t max_tokens = -1;                   // -1: the server default
  std::optional<float> temperature, top_p, presence_penalty, frequency_penalty;
  std::optional<int32_t> top_k;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  std::string model;
  size_t n_images = 0;
};

}  // namespace edgevl_server

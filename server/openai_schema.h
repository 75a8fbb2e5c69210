// Parsing and validation of OpenAI chat-completion requests. Everything a client can
// get wrong is caught here and reported as a 4xx ApiError naming the field, before any
// model work starts: bad JSON, wrong types, unknown roles or part types, out-of-range
// sampling values, bad images, too many images.
#pragma once
#include <string>

#include "chat_request.h"
#include "image_input.h"

namespace edgevl_server {

struct RequestLimits {
  ImageLimits image;
  size_t max_images = 8;         // image parts in one request, all messages together
  int32_t max_tokens_cap = 4096;  // max_tokens above this is refused (the context size)
};

ChatRequest parse_chat_request(const std::string& body, const RequestLimits& limits);

}  // namespace edgevl_server

// Strict base64 decoding for image data URIs: anything that is not valid base64
// (stray characters, bad padding, truncated groups) is refused rather than guessed at,
// so a broken upload becomes a clear 400 instead of a confusing image-decode error.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace edgevl_server {

// Standard alphabet (RFC 4648 §4). Whitespace (CR, LF, space, tab) is skipped, as
// MIME-wrapped data URIs contain line breaks. Returns nullopt on any other error.
std::optional<std::vector<uint8_t>> base64_decode(std::string_view in);

}  // namespace edgevl_server

// Turns an image_url from a request into checked image bytes. Accepted: data URIs
// with base64 payloads; file:// URLs and plain paths only when the server was started
// with --allow-local-images DIR, and only for regular files reached from DIR without
// symlinks or ".." (each path component is opened with O_NOFOLLOW, and the checks run
// on the opened file). Every refused path gets the same error (image_unavailable), so
// the answers do not tell which paths exist. Remote URLs are refused: the server is
// offline by design and must not be made to fetch things.
#pragma once
#include <memory>
#include <string>

#include "chat_request.h"

namespace edgevl_server {

struct ImageLimits {
  std::string local_dir;        // realpath of --allow-local-images, "" = local files refused
  std::string local_dir_given;  // the same directory as configured (absolute, normalised), may hold symlinks
  size_t max_bytes = 0;       // per image
};

// Throws ApiError (400) with a precise code: invalid_image_url, invalid_base64,
// invalid_image, image_too_large, local_images_disabled, image_unavailable.
std::shared_ptr<const ImageData> load_image_url(const std::string& url, const ImageLimits& limits, const std::string& param);

// True when the bytes start like a PNG, JPEG, GIF or BMP file.
bool looks_like_image(const std::vector<uint8_t>& b);

}  // namespace edgevl_server

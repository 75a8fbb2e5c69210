// Turns an image_url from a request into checked image bytes. Accepted: data URIs
// with base64 payloads; file:// URLs and plain paths only when the server was started
// with --allow-local-images DIR, and only for files whose real path lies inside DIR
// (symlinks and ".." are resolved first). Remote URLs are refused: the server is
// offline by design and must not be made to fetch things.
#pragma once
#include <memory>
#include <string>

#include "chat_request.h"

namespace edgevl_server {

struct ImageLimits {
  std::string local_dir;      // realpath of --allow-local-images, "" = local files refused
  size_t max_bytes = 0;       // per image
};

// Throws ApiError (400) with a precise code: invalid_image_url, invalid_base64,
// invalid_image, image_too_large, local_images_disabled, image_path_forbidden.
std::shared_ptr<const ImageData> load_image_url(const std::string& url, const ImageLimits& limits, const std::string& param);

// True when the bytes start like a PNG, JPEG, GIF or BMP file.
bool looks_like_image(const std::vector<uint8_t>& b);

}  // namespace edgevl_server

#include "image_input.h"

#include <sys/stat.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "api_error.h"
#include "base64.h"
#include "sha256.h"

namespace edgevl_server {

bool looks_like_image(const std::vector<uint8_t>& b) {
  auto starts = [&](const char* magic, size_t n) { return b.size() >= n && std::memcmp(b.data(), magic, n) == 0; };
  return starts("\x89PNG\r\n\x1a\n", 8) || starts("\xFF\xD8\xFF", 3) || starts("GIF87a", 6) || starts("GIF89a", 6) ||
         (starts("BM", 2) && b.size() >= 26);
}

namespace {

std::shared_ptr<ImageData> finish(std::vector<uint8_t> bytes, const ImageLimits& limits, const std::string& param) {
  if (bytes.empty()) throw bad_request("invalid_image", "the image is empty", param);
  if (bytes.size() > limits.max_bytes)
    throw bad_request("image_too_large", "the image is " + std::to_string(bytes.size()) + " bytes, over the limit of " +
                                             std::to_string(limits.max_bytes), param);
  if (!looks_like_image(bytes)) throw bad_request("invalid_image", "the data is not a PNG, JPEG, GIF or BMP image", param);
  auto img = std::make_shared<ImageData>();
  img->sha256 = Sha256().update(bytes.data(), bytes.size()).hex();
  img->bytes = std::move(bytes);
  return img;
}

std::string percent_decode(const std::string& s, const std::string& param) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !isxdigit((unsigned char)s[i + 1]) || !isxdigit((unsigned char)s[i + 2]))
      throw bad_request("invalid_image_url", "bad percent-escape in file URL", param);
    out += char(std::stoi(s.substr(i + 1, 2), nullptr, 16));
    i += 2;
  }
  return out;
}

std::shared_ptr<const ImageData> load_data_uri(const std::string& url, const ImageLimits& limits, const std::string& param) {
  const size_t comma = url.find(',');
  if (comma == std::string::npos) throw bad_request("invalid_image_url", "data URI without a ',' before the payload", param);
  const std::string header = url.substr(5, comma - 5);  // after "data:"
  if (header.size() < 7 || header.compare(header.size() - 7, 7, ";base64") != 0)
    throw bad_request("invalid_image_url", "only base64 data URIs are accepted (data:image/png;base64,...)", param);
  const std::string_view payload(url.data() + comma + 1, url.size() - comma - 1);
  // Base64 grows data by 4/3; refuse before decoding what could not fit anyway.
  if (payload.size() / 4 * 3 > limits.max_bytes + 3)
    throw bad_request("image_too_large", "the image is over the limit of " + std::to_string(limits.max_bytes) + " bytes", param);
  auto bytes = base64_decode(payload);
  if (!bytes) throw bad_request("invalid_base64", "the data URI payload is not valid base64", param);
  return finish(std::move(*bytes), limits, param);
}

std::shared_ptr<const ImageData> load_local(std::string path, const ImageLimits& limits, const std::string& param) {
  if (limits.local_dir.empty())
    throw bad_request("local_images_disabled", "local image paths are disabled (start the server with --allow-local-images DIR); send a data URI",
                      param);
  if (path.empty()) throw bad_request("invalid_image_url", "empty image path", param);
  if (path.find('\0') != std::string::npos) throw bad_request("invalid_image_url", "NUL byte in image path", param);
  if (path[0] != '/') path = limits.local_dir + "/" + path;
  char resolved[PATH_MAX];
  if (!::realpath(path.c_str(), resolved)) throw bad_request("image_not_found", "the image file does not exist", param);
  const std::string real = resolved;
  // The real path must be strictly inside the allowed directory: prefix + '/' so that
  // "/data/imgs-private" does not pass for "/data/imgs".
  const std::string& dir = limits.local_dir;
  const bool inside = dir == "/" ? real.size() > 1 : real.compare(0, dir.size() + 1, dir + "/") == 0;
  if (!inside) throw ApiError(403, "image_path_forbidden", "the image path is outside the allowed directory", param);
  struct stat st;
  if (::stat(resolved, &st) != 0 || !S_ISREG(st.st_mode)) throw bad_request("image_not_found", "the image path is not a regular file", param);
  if (size_t(st.st_size) > limits.max_bytes)
    throw bad_request("image_too_large", "the image file is over the limit of " + std::to_string(limits.max_bytes) + " bytes", param);
  std::ifstream f(resolved, std::ios::binary);
  std::vector<uint8_t> bytes(size_t(st.st_size));
  if (!f.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(bytes.size())))
    throw bad_request("image_not_found", "the image file could not be read", param);
  return finish(std::move(bytes), limits, param);
}

}  // namespace

std::shared_ptr<const ImageData> load_image_url(const std::string& url, const ImageLimits& limits, const std::string& param) {
  if (url.rfind("data:", 0) == 0) return load_data_uri(url, limits, param);
  if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0)
    throw bad_request("invalid_image_url", "remote image URLs are not fetched (the server is offline); send a data URI", param);
  if (url.rfind("file://", 0) == 0) {
    std::string rest = url.substr(7);
    if (rest.rfind("localhost/", 0) == 0) rest = rest.substr(9);
    if (rest.empty() || rest[0] != '/') throw bad_request("invalid_image_url", "file URLs must be file:///absolute/path", param);
    return load_local(percent_decode(rest, param), limits, param);
  }
  if (url.find("://") != std::string::npos) throw bad_request("invalid_image_url", "unsupported URL scheme", param);
  return load_local(url, limits, param);
}

}  // namespace edgevl_server

#include "image_input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

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

// Every refused path gets this same answer, whatever the reason (missing, outside the
// directory, a symlink, not a regular file, unreadable), so that a client learns nothing
// about which paths exist.
ApiError unavailable(const std::string& param) {
  return bad_request("image_unavailable", "the image path does not name a readable image file inside the allowed directory", param);
}

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// Opens `rel` (components separated by '/') under `dir`, one component at a time with
// O_NOFOLLOW, so no symlink and no ".." can lead outside; the checks then apply to the
// opened file itself (no window between checking a path and opening it). -1 on refusal.
int open_beneath(const std::string& dir, const std::string& rel) {
  std::vector<std::string> parts;
  for (size_t i = 0; i <= rel.size();) {
    size_t j = rel.find('/', i);
    if (j == std::string::npos) j = rel.size();
    const std::string c = rel.substr(i, j - i);
    if (c == "..") return -1;
    if (!c.empty() && c != ".") parts.push_back(c);
    i = j + 1;
  }
  if (parts.empty()) return -1;
  auto cur = std::make_unique<Fd>(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (cur->fd < 0) return -1;
  for (size_t k = 0; k + 1 < parts.size(); ++k) {
    auto next = std::make_unique<Fd>(::openat(cur->fd, parts[k].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (next->fd < 0) return -1;
    cur = std::move(next);
  }
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below anyway).
  return ::openat(cur->fd, parts.back().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
}

std::shared_ptr<const ImageData> load_local(std::string path, const ImageLimits& limits, const std::string& param) {
  if (limits.local_dir.empty())
    throw bad_request("local_images_disabled", "local image paths are disabled (start the server with --allow-local-images DIR); send a data URI",
                      param);
  if (path.empty() || path.find('\0') != std::string::npos) throw unavailable(param);
  if (path[0] == '/') {
    // An absolute path must start with the allowed directory, as configured or as its
    // real path; the rest is opened beneath it.
    auto strip = [&](const std::string& dir) {
      const std::string prefix = dir == "/" ? dir : dir + "/";
      if (dir.empty() || path.compare(0, prefix.size(), prefix) != 0) return false;
      path.erase(0, prefix.size());
      return true;
    };
    if (!strip(limits.local_dir) && !strip(limits.local_dir_given)) throw unavailable(param);
  }
  Fd f(open_beneath(limits.local_dir, path));
  struct stat st;
  if (f.fd < 0 || ::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) throw unavailable(param);
  if (uint64_t(st.st_size) > limits.max_bytes)
    throw bad_request("image_too_large", "the image file is over the limit of " + std::to_string(limits.max_bytes) + " bytes", param);
  std::vector<uint8_t> bytes(size_t(st.st_size));
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(f.fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw unavailable(param);
    got += size_t(n);
  }
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

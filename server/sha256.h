// SHA-256 (FIPS 180-4), used to key conversation content (message text, image bytes)
// in the session pool. A cryptographic hash, so one user cannot craft content that
// collides with another conversation and inherit its KV cache.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace edgevl_server {

class Sha256 {
 public:
  Sha256();
  Sha256& update(const void* data, size_t n);
  Sha256& update(std::string_view s) { return update(s.data(), s.size()); }
  std::string hex();  // finishes the hash; call once

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

std::string sha256_hex(std::string_view s);

}  // namespace edgevl_server

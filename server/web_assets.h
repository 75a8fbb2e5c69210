// The web chat page (server/web/*), embedded into the binary at build time by
// cmake/embed_files.cmake so that `edgevl serve` needs no files beside it.
#pragma once
#include <cstddef>
#include <string_view>

namespace edgevl_server {

struct WebAsset {
  const char* path;  // URL path, e.g. "/app.js" ("/" is index.html)
  const char* mime;
  const unsigned char* data;
  size_t size;
};

// nullptr when there is no such asset.
const WebAsset* find_web_asset(std::string_view path);

}  // namespace edgevl_server

// stb_image compiled once, here, for the four formats we accept.
//
// Why not link Debian's libstb.a/.so (libstb-dev ships one)? That build enables every
// stb_image format (PSD, HDR, PIC, PNM, TGA...), each a parser exposed to untrusted
// input, and exports global stbi_* symbols. Compiling the header ourselves with
// STBI_ONLY_* keeps the attack surface to JPEG/PNG/BMP/GIF, and STB_IMAGE_STATIC gives
// every stb function internal linkage, so nothing clashes if some other part of a
// program links libstb. The cost is that the wrappers must live in this file.
#include "vision/stb_decode.h"

#include <climits>
#include <cstring>

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_NO_STDIO  // we read files ourselves, after the size checks
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#if defined(__aarch64__)
#define STBI_NEON  // stb enables SSE2 on x86-64 by itself, NEON only when asked
#endif

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <stb/stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace edgevl {
namespace detail {

static std::string reason() {
  const char* r = stbi_failure_reason();  // thread-local in stb >= 2.26
  return r ? r : "unknown error";
}

bool stb_probe(const uint8_t* data, size_t size, int* width, int* height, std::string* why) {
  if (size > static_cast<size_t>(INT_MAX)) {  // stb takes an int length
    *why = "encoded data larger than 2 GiB";
    return false;
  }
  int comp = 0;
  if (!stbi_info_from_memory(data, static_cast<int>(size), width, height, &comp)) {
    *why = reason();
    return false;
  }
  return true;
}

bool stb_decode_rgb(const uint8_t* data, size_t size, ImageU8* out, std::string* why) {
  if (size > static_cast<size_t>(INT_MAX)) {
    *why = "encoded data larger than 2 GiB";
    return false;
  }
  int w = 0, h = 0, comp = 0;
  stbi_uc* px = stbi_load_from_memory(data, static_cast<int>(size), &w, &h, &comp, 3);
  if (!px) {
    *why = reason();
    return false;
  }
  out->width = w;
  out->height = h;
  out->rgb.assign(px, px + static_cast<size_t>(w) * h * 3);
  stbi_image_free(px);
  return true;
}

}  // namespace detail
}  // namespace edgevl

// Internal: the only door to stb_image, whose implementation lives (static) in
// stb_impl.cpp. image.cpp does the limits, naming and error policy around it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "vision/image.h"

namespace edgevl {
namespace detail {

// Reads only the header. False (with stb's reason in *why) if no enabled format
// recognises the bytes.
bool stb_probe(const uint8_t* data, size_t size, int* width, int* height, std::string* why);

// Full decode to RGB8 (stb converts grey/alpha/palette/16-bit). False with a reason.
bool stb_decode_rgb(const uint8_t* data, size_t size, ImageU8* out, std::string* why);

}  // namespace detail
}  // namespace edgevl

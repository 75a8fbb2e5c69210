// Decoded images as the rest of edgevl sees them: 8-bit RGB, row-major, no padding.
// Decoding goes through stb_image (JPEG, PNG, BMP, GIF only). Every failure is an
// edgevl::Error whose message names the file (or the caller's name for a buffer).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace edgevl {

struct ImageU8 {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // HWC RGB8, rgb.size() == width * height * 3
};

// Caps checked before any pixel memory is allocated: the header's width*height
// against max_pixels, the encoded size against max_bytes. Decoding holds the decoder's
// RGB8 buffer and the returned copy at once, about 6 bytes per pixel: 288 MB for a
// 48 MP photo, 403 MB at the default cap of 64 Mi pixels (e.g. 9600x7000). The image
// is then scaled down to the session's image-token budget before encoding, so larger
// inputs cost decode time and memory but no more encode work.
struct ImageLimits {
  int64_t max_pixels = 64LL << 20;
  int64_t max_bytes = 256LL << 20;
};

// JPEG/PNG/BMP/GIF (first frame) -> RGB8; alpha is dropped (not composited, as PIL's
// convert("RGB") does), grey is replicated to 3 channels, 16-bit PNG keeps the high byte
// (as PIL does for 16-bit RGB; PIL clips 16-bit grey instead). EXIF orientation is not
// applied. JPEG pixels may differ from PIL's libjpeg decode by a few levels.
// Missing file -> kIo; empty/corrupt/truncated/unknown format -> kFormat;
// over the limits -> kInvalidArgument.
ImageU8 decode_image_file(const std::string& path, const ImageLimits& lim = {});
ImageU8 decode_image_bytes(const uint8_t* data, size_t size, const std::string& name,
                           const ImageLimits& lim = {});

// Copies caller-owned RGB8 pixels. Throws kInvalidArgument for null data or a
// non-positive or overflowing size. The second form also checks the buffer length.
ImageU8 image_from_rgb(const uint8_t* rgb, int width, int height);
ImageU8 image_from_rgb(const uint8_t* rgb, size_t size, int width, int height);

// Throws kInvalidArgument (naming `what`) unless img has positive sizes and
// rgb.size() == width*height*3. Every image operation calls it on its input.
void check_image(const ImageU8& img, const char* what);

}  // namespace edgevl

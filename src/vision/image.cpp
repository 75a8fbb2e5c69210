// Image input: format sniffing, size limits, and the checks stb_image does not make.
#include "vision/image.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "vision/stb_decode.h"

namespace edgevl {

namespace {

enum class Format { kUnknown, kJpeg, kPng, kGif, kBmp };

Format sniff(const uint8_t* p, size_t n) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) return Format::kJpeg;
  if (n >= 8 && std::memcmp(p, kPng, 8) == 0) return Format::kPng;
  if (n >= 6 && (std::memcmp(p, "GIF87a", 6) == 0 || std::memcmp(p, "GIF89a", 6) == 0))
    return Format::kGif;
  if (n >= 2 && p[0] == 'B' && p[1] == 'M') return Format::kBmp;
  return Format::kUnknown;
}

const char* format_name(Format f) {
  switch (f) {
    case Format::kJpeg: return "JPEG";
    case Format::kPng: return "PNG";
    case Format::kGif: return "GIF";
    case Format::kBmp: return "BMP";
    default: return "unknown";
  }
}

uint32_t be16(const uint8_t* p) { return (uint32_t(p[0]) << 8) | p[1]; }
uint32_t be32(const uint8_t* p) { return (be16(p) << 16) | be16(p + 2); }
uint32_t le16(const uint8_t* p) { return (uint32_t(p[1]) << 8) | p[0]; }
uint32_t le32(const uint8_t* p) { return (le16(p + 2) << 16) | le16(p); }

// What the JPEG marker walk found.
struct JpegLayout {
  bool complete = false;  // reached EOI
  int64_t width = -1, height = -1;  // from the first SOFn, if any
};

// stb_image decodes a JPEG that is cut short without complaint: it feeds zeros for the
// missing entropy-coded bytes and returns a picture with a smeared tail. PIL refuses
// such files ("image file is truncated"), and so do we. This walks the marker structure
// from SOI to EOI (segment lengths, then the scan data up to the next real marker)
// without decoding anything, noting the frame size on the way. Bytes after EOI are
// allowed (some cameras append data), as are stray bytes between segments (libjpeg
// only warns about those).
JpegLayout walk_jpeg(const uint8_t* p, size_t n) {
  JpegLayout out;
  size_t i = 2;  // after SOI
  for (;;) {
    while (i < n && p[i] != 0xff) ++i;  // tolerate extraneous bytes before a marker
    while (i < n && p[i] == 0xff) ++i;  // fill bytes
    if (i >= n) return out;
    const uint8_t m = p[i++];
    if (m == 0xd9) {  // EOI
      out.complete = true;
      return out;
    }
    if (m == 0x01 || (m >= 0xd0 && m <= 0xd8)) continue;  // TEM, RSTn, SOI: no length
    if (n - i < 2) return out;
    const size_t len = be16(p + i);
    if (len < 2 || n - i < len) return out;
    const bool sof = m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc;
    if (sof && out.width < 0 && len >= 7) {
      out.height = be16(p + i + 3);
      out.width = be16(p + i + 5);
    }
    i += len;
    if (m != 0xda) continue;
    // Scan data after SOS: 0xFF 0x00 is a stuffed byte and 0xFF 0xD0..D7 a restart;
    // any other 0xFF xx starts the next marker.
    for (;;) {
      if (n - i < 2) return out;
      if (p[i] == 0xff && p[i + 1] != 0x00 && !(p[i + 1] >= 0xd0 && p[i + 1] <= 0xd7)) break;
      ++i;
    }
  }
}

// Width and height as the container header states them, read without stb so the
// pixel limit is checked first and reported with the real numbers (stb's own probe
// refuses anything over 2^30 bytes with a vague "unknown image type"). False if the
// header is too short to tell.
bool header_size(Format f, const uint8_t* p, size_t n, int64_t* w, int64_t* h) {
  switch (f) {
    case Format::kPng:  // signature, then the IHDR chunk: length, "IHDR", width, height
      if (n < 24 || std::memcmp(p + 12, "IHDR", 4) != 0) return false;
      *w = be32(p + 16);
      *h = be32(p + 20);
      return true;
    case Format::kGif:  // logical screen size
      if (n < 10) return false;
      *w = le16(p + 6);
      *h = le16(p + 8);
      return true;
    case Format::kBmp: {  // BITMAPCOREHEADER has 16-bit sizes, later headers int32
      if (n < 26) return false;
      if (le32(p + 14) == 12) {
        *w = le16(p + 18);
        *h = le16(p + 20);
      } else {
        *w = static_cast<int32_t>(le32(p + 18));
        *h = static_cast<int32_t>(le32(p + 22));
        if (*h < 0) *h = -*h;  // negative height = top-down rows
      }
      return true;
    }
    case Format::kJpeg: {
      JpegLayout j = walk_jpeg(p, n);
      if (j.width < 0) return false;
      *w = j.width;
      *h = j.height;
      return true;
    }
    default:
      return false;
  }
}

[[noreturn]] void fail_bad(const std::string& name, const std::string& what) {
  fail_format(name + ": " + what);
}

std::vector<uint8_t> read_file_limited(const std::string& path, int64_t max_bytes) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail(ErrorCode::kIo, path + ": cannot open image file: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    std::fclose(f);
    fail(ErrorCode::kIo, path + ": not a regular file");
  }
  if (st.st_size > max_bytes) {
    std::fclose(f);
    fail(ErrorCode::kInvalidArgument, path + ": image file is " + std::to_string(st.st_size) +
                                          " bytes, over the limit of " +
                                          std::to_string(max_bytes));
  }
  std::vector<uint8_t> buf(static_cast<size_t>(st.st_size));
  size_t got = buf.empty() ? 0 : std::fread(buf.data(), 1, buf.size(), f);
  bool err = std::ferror(f) != 0;
  std::fclose(f);
  if (err || got != buf.size()) fail(ErrorCode::kIo, path + ": short read of image file");
  return buf;
}

}  // namespace

void check_image(const ImageU8& img, const char* what) {
  if (img.width <= 0 || img.height <= 0)
    fail(ErrorCode::kInvalidArgument, std::string(what) + ": image has size " +
                                          std::to_string(img.width) + "x" +
                                          std::to_string(img.height));
  const uint64_t need = static_cast<uint64_t>(img.width) * static_cast<uint64_t>(img.height) * 3;
  if (img.rgb.size() != need)
    fail(ErrorCode::kInvalidArgument, std::string(what) + ": " + std::to_string(img.width) + "x" +
                                          std::to_string(img.height) + " image holds " +
                                          std::to_string(img.rgb.size()) + " bytes, expected " +
                                          std::to_string(need));
}

ImageU8 decode_image_bytes(const uint8_t* data, size_t size, const std::string& name,
                           const ImageLimits& lim) {
  if (!data || size == 0) fail_bad(name, "empty image data");
  if (static_cast<uint64_t>(size) > static_cast<uint64_t>(lim.max_bytes))
    fail(ErrorCode::kInvalidArgument, name + ": encoded image is " + std::to_string(size) +
                                          " bytes, over the limit of " +
                                          std::to_string(lim.max_bytes));
  const Format fmt = sniff(data, size);
  if (fmt == Format::kUnknown) fail_bad(name, "not a JPEG, PNG, BMP or GIF image");

  // Header first: reject absurd sizes before anything is allocated for them.
  int64_t hw = 0, hh = 0;
  if (header_size(fmt, data, size, &hw, &hh)) {
    if (hw <= 0 || hh <= 0)
      fail_bad(name, "image has size " + std::to_string(hw) + "x" + std::to_string(hh));
    if (hw * hh > lim.max_pixels)
      fail(ErrorCode::kInvalidArgument, name + ": image is " + std::to_string(hw) + "x" +
                                            std::to_string(hh) + " = " +
                                            std::to_string(hw * hh) +
                                            " pixels, over the limit of " +
                                            std::to_string(lim.max_pixels));
  }
  int w = 0, h = 0;
  std::string why;
  if (!detail::stb_probe(data, size, &w, &h, &why))
    fail_bad(name, std::string("corrupt ") + format_name(fmt) + " header (" + why + ")");
  if (w <= 0 || h <= 0)
    fail_bad(name, "image has size " + std::to_string(w) + "x" + std::to_string(h));
  const int64_t pixels = static_cast<int64_t>(w) * h;
  if (pixels > lim.max_pixels)  // stb's view, in case the container header misled us
    fail(ErrorCode::kInvalidArgument, name + ": image is " + std::to_string(w) + "x" +
                                          std::to_string(h) + " = " + std::to_string(pixels) +
                                          " pixels, over the limit of " +
                                          std::to_string(lim.max_pixels));
  if (fmt == Format::kJpeg && !walk_jpeg(data, size).complete)
    fail_bad(name, "truncated or corrupt JPEG (data ends before the end-of-image marker)");

  ImageU8 img;
  if (!detail::stb_decode_rgb(data, size, &img, &why))
    fail_bad(name, std::string("cannot decode ") + format_name(fmt) + " (" + why + ")");
  if (img.width != w || img.height != h)  // never expected; keeps the limit check honest
    fail_bad(name, "decoded size differs from the header's");
  return img;
}

ImageU8 decode_image_file(const std::string& path, const ImageLimits& lim) {
  std::vector<uint8_t> bytes = read_file_limited(path, lim.max_bytes);
  return decode_image_bytes(bytes.data(), bytes.size(), path, lim);
}

ImageU8 image_from_rgb(const uint8_t* rgb, int width, int height) {
  if (!rgb) fail(ErrorCode::kInvalidArgument, "image_from_rgb: null pixel pointer");
  if (width <= 0 || height <= 0)
    fail(ErrorCode::kInvalidArgument, "image_from_rgb: bad size " + std::to_string(width) + "x" +
                                          std::to_string(height));
  const uint64_t n = static_cast<uint64_t>(width) * static_cast<uint64_t>(height) * 3;
  if (n > static_cast<uint64_t>(std::numeric_limits<std::ptrdiff_t>::max()))
    fail(ErrorCode::kInvalidArgument, "image_from_rgb: size overflows");
  ImageU8 img;
  img.width = width;
  img.height = height;
  img.rgb.assign(rgb, rgb + n);
  return img;
}

ImageU8 image_from_rgb(const uint8_t* rgb, size_t size, int width, int height) {
  if (width > 0 && height > 0 &&
      static_cast<uint64_t>(size) !=
          static_cast<uint64_t>(width) * static_cast<uint64_t>(height) * 3)
    fail(ErrorCode::kInvalidArgument,
         "image_from_rgb: buffer of " + std::to_string(size) + " bytes does not hold a " +
             std::to_string(width) + "x" + std::to_string(height) + " RGB8 image (" +
             std::to_string(static_cast<uint64_t>(width) * static_cast<uint64_t>(height) * 3) +
             " bytes)");
  return image_from_rgb(rgb, width, height);
}

}  // namespace edgevl

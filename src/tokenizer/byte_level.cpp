#include "tokenizer/byte_level.h"

#include <array>
#include <cstdint>

namespace edgevl {
namespace {

// The mapping from GPT-2's bytes_to_unicode(): bytes in '!'..'~', '¡'..'¬' and '®'..'ÿ'
// map to the same code point; the other 68 bytes get U+0100 + k in byte order.
struct Tables {
  std::array<uint16_t, 256> to_cp{};   // byte -> code point
  std::array<int16_t, 324> to_byte{};  // code point (< 0x144) -> byte, -1 if none
  Tables() {
    to_byte.fill(-1);
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_cp[b] = static_cast<uint16_t>(printable ? b : 0x100 + next++);
      to_byte[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

std::string bytes_to_byte_level(std::string_view bytes) {
  const Tables& t = tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    uint16_t cp = t.to_cp[b];
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else {  // all code points here are < U+0800: two UTF-8 bytes
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

bool byte_level_to_bytes(std::string_view text, std::string& bytes) {
  const Tables& t = tables();
  bytes.clear();
  bytes.reserve(text.size());
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    if (p[i] < 0x80) {
      cp = p[i];
      i += 1;
    } else if ((p[i] & 0xE0) == 0xC0 && i + 1 < n && (p[i + 1] & 0xC0) == 0x80) {
      cp = ((p[i] & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu);
      if (cp < 0x80) return false;  // overlong
      i += 2;
    } else {
      return false;  // longer sequences are all outside the alphabet (or invalid)
    }
    if (cp >= t.to_byte.size() || t.to_byte[cp] < 0) return false;
    bytes.push_back(static_cast<char>(t.to_byte[cp]));
  }
  return true;
}

}  // namespace edgevl

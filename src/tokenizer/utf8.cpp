#include "tokenizer/utf8.h"

#include <cstdint>

namespace edgevl {
namespace {

const char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

enum class Scan { kComplete, kInvalid, kIncomplete };

// Looks at the sequence starting at p[0] (n >= 1 bytes available). Sets `len` to the
// bytes it covers: the whole character when complete, the maximal ill-formed subpart
// when invalid (always >= 1), or everything available when the input ends mid-sequence.
// The allowed range of the second byte is what rules out overlongs (E0, F0),
// surrogates (ED) and code points above U+10FFFF (F4), per Unicode table 3-7.
Scan scan_one(const uint8_t* p, size_t n, size_t& len) {
  uint8_t b = p[0];
  if (b < 0x80) {
    len = 1;
    return Scan::kComplete;
  }
  size_t need;
  uint8_t lo = 0x80, hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    need = 1;
  } else if (b >= 0xE0 && b <= 0xEF) {
    need = 2;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    need = 3;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    len = 1;  // C0, C1, F5..FF and stray continuation bytes never start a character
    return Scan::kInvalid;
  }
  for (size_t i = 1; i <= need; ++i) {
    if (i >= n) {
      len = n;
      return Scan::kIncomplete;
    }
    uint8_t c = p[i];
    if (c < lo || c > hi) {
      len = i;
      return Scan::kInvalid;
    }
    lo = 0x80;
    hi = 0xBF;
  }
  len = need + 1;
  return Scan::kComplete;
}

// Decodes `n` bytes into `out`. When `hold` is set, an incomplete sequence at the very
// end is not replaced but left for later; returns how many bytes were consumed.
size_t decode_into(const uint8_t* p, size_t n, bool hold, std::string& out) {
  size_t i = 0;
  while (i < n) {
    size_t run = i;
    while (run < n && p[run] < 0x80) ++run;  // ASCII fast path
    if (run > i) {
      out.append(reinterpret_cast<const char*>(p + i), run - i);
      i = run;
      if (i == n) break;
    }
    size_t len;
    Scan s = scan_one(p + i, n - i, len);
    if (s == Scan::kComplete) {
      out.append(reinterpret_cast<const char*>(p + i), len);
    } else if (s == Scan::kIncomplete && hold) {
      return i;
    } else {
      out.append(kReplacement);
    }
    i += len;
  }
  return n;
}

}  // namespace

size_t first_invalid_utf8(std::string_view s) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    if (scan_one(p + i, n - i, len) != Scan::kComplete) return i;
    i += len;
  }
  return std::string_view::npos;
}

bool is_valid_utf8(std::string_view s) { return first_invalid_utf8(s) == std::string_view::npos; }

std::string utf8_replace_invalid(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  decode_into(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), false, out);
  return out;
}

std::string Utf8StreamDecoder::push(std::string_view bytes) {
  std::string out;
  if (held_len_ == 0) {
    size_t used = decode_into(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), true, out);
    held_len_ = bytes.size() - used;  // < 4: an incomplete sequence is at most 3 bytes
    if (held_len_) bytes.copy(held_, held_len_, used);
    return out;
  }
  // Re-scan the held bytes together with the new ones: the held prefix may now be
  // complete, or turn out to be an ill-formed subpart that becomes one U+FFFD.
  std::string buf(held_, held_len_);
  buf.append(bytes);
  size_t used = decode_into(reinterpret_cast<const uint8_t*>(buf.data()), buf.size(), true, out);
  held_len_ = buf.size() - used;
  if (held_len_) buf.copy(held_, held_len_, used);
  return out;
}

std::string Utf8StreamDecoder::flush() {
  if (held_len_ == 0) return {};
  held_len_ = 0;
  return kReplacement;  // an incomplete sequence at the end is one maximal subpart
}

}  // namespace edgevl

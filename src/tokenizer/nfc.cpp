// NFC without running all of the text through utf8proc, which cost ~40% of encode time.
//
// A code point is "inert" when NFC provably leaves it alone *and* it never combines with
// the character before it: canonical combining class 0, no canonical decomposition, and
// not the second half of any canonical composition. NFC never reorders or composes across
// such a character, so the text can be cut right before each one and each piece
// normalized on its own. Pieces with nothing but inert characters are copied as is; only
// pieces holding something else (combining marks, decomposable letters, Hangul jamo...)
// go to utf8proc. ASCII is inert. The table comes from utf8proc's own data, so both
// paths always agree on the Unicode version.
#include <utf8proc.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace edgevl {
namespace {

constexpr uint32_t kMaxCodePoint = 0x110000;

class NotInertTable {
 public:
  NotInertTable() : bits_(kMaxCodePoint / 64, 0) {
    utf8proc_int32_t buf[8];
    for (uint32_t cp = 0x80; cp < kMaxCodePoint; ++cp) {
      if (cp >= 0xD800 && cp < 0xE000) continue;
      const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
      if (p->combining_class != 0) set(cp);
      if (p->decomp_seqindex == UINT16_MAX) continue;  // no decomposition of any kind
      int bound = 0;
      utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf, 8,
                                                   UTF8PROC_DECOMPOSE, &bound);  // canonical only
      if (n == 1 && buf[0] == static_cast<utf8proc_int32_t>(cp)) continue;  // compatibility-only
      set(cp);
      // Everything after the first code point of a canonical decomposition may combine
      // with what precedes it (a superset of the composition "second" characters).
      for (utf8proc_ssize_t i = 1; i < n && i < 8; ++i) set(static_cast<uint32_t>(buf[i]));
    }
    // Hangul composes algorithmically (L+V -> LV, LV+T -> LVT), not from the tables.
    for (uint32_t cp = 0x1161; cp <= 0x1175; ++cp) set(cp);  // vowels (V)
    for (uint32_t cp = 0x11A8; cp <= 0x11C2; ++cp) set(cp);  // trailing consonants (T)
  }
  bool operator()(uint32_t cp) const { return (bits_[cp >> 6] >> (cp & 63)) & 1; }

 private:
  void set(uint32_t cp) {
    if (cp < kMaxCodePoint) bits_[cp >> 6] |= 1ull << (cp & 63);
  }
  std::vector<uint64_t> bits_;
};

const NotInertTable& not_inert() {
  static const NotInertTable table;  // built once, ~1M property lookups
  return table;
}

void append_nfc(std::string& out, std::string_view text) {
  utf8proc_uint8_t* buf = nullptr;
  // An explicit length (no UTF8PROC_NULLTERM) keeps embedded NULs as ordinary characters.
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                    static_cast<utf8proc_ssize_t>(text.size()), &buf,
                                    static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) {
    std::free(buf);
    fail(ErrorCode::kInvalidArgument, std::string("NFC normalization failed: ") + utf8proc_errmsg(n));
  }
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
  std::free(buf);
}

}  // namespace

std::string nfc_normalize_reference(std::string_view text) {
  std::string out;
  append_nfc(out, text);
  return out;
}

std::string nfc_normalize(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && static_cast<unsigned char>(text[i]) < 0x80) ++i;
  if (i == text.size()) return std::string(text);  // all ASCII: nothing to do

  const NotInertTable& busy = not_inert();
  std::string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t copied = 0;   // text[0, copied) is already in `out`
  size_t piece = i > 0 ? i - 1 : 0;  // start of the current piece (an inert character)
  bool dirty = false;  // the current piece holds a non-inert character
  while (i < text.size()) {
    uint32_t cp;
    size_t len;
    unsigned char b = p[i];
    if (b < 0x80) {
      cp = b, len = 1;
    } else if (b < 0xE0) {
      cp = ((b & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu), len = 2;
    } else if (b < 0xF0) {
      cp = ((b & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu), len = 3;
    } else {
      cp = ((b & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12) | ((p[i + 2] & 0x3Fu) << 6) | (p[i + 3] & 0x3Fu),
      len = 4;
    }
    if (cp < 0x80 || !busy(cp)) {  // a safe cut point
      if (dirty) {
        out.append(text.data() + copied, piece - copied);
        append_nfc(out, text.substr(piece, i - piece));
        copied = i;
        dirty = false;
      }
      piece = i;
    } else {
      dirty = true;
    }
    i += len;
  }
  if (dirty) {
    out.append(text.data() + copied, piece - copied);
    append_nfc(out, text.substr(piece));
  } else {
    out.append(text.data() + copied, text.size() - copied);
  }
  return out;
}

}  // namespace edgevl

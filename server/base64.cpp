#include "base64.h"

namespace edgevl_server {

namespace {
int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

std::optional<std::vector<uint8_t>> base64_decode(std::string_view in) {
  std::vector<uint8_t> out;
  out.reserve(in.size() / 4 * 3);
  uint32_t acc = 0;
  int n = 0;        // sextets in the current group
  int padding = 0;  // '=' seen (only at the very end)
  for (char c : in) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++padding;
      if (padding > 2) return std::nullopt;
      continue;
    }
    if (padding) return std::nullopt;  // data after padding
    int v = sextet(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | uint32_t(v);
    if (++n == 4) {
      out.push_back(uint8_t(acc >> 16));
      out.push_back(uint8_t(acc >> 8));
      out.push_back(uint8_t(acc));
      acc = 0;
      n = 0;
    }
  }
  // A final group of 2 or 3 sextets carries 1 or 2 bytes; its padding, if present,
  // must complete it to 4. A lone sextet can never be valid.
  if (n == 1) return std::nullopt;
  if (padding && n + padding != 4) return std::nullopt;
  if (n == 2) {
    if (acc & 0xF) return std::nullopt;  // non-zero unused bits: not canonical
    out.push_back(uint8_t(acc >> 4));
  } else if (n == 3) {
    if (acc & 0x3) return std::nullopt;
    out.push_back(uint8_t(acc >> 10));
    out.push_back(uint8_t(acc >> 2));
  }
  return out;
}

}  // namespace edgevl_server

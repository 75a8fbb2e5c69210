#include "core/npy.h"

#include <cstring>

#include "core/error.h"
#include "core/mmap_file.h"

namespace edgevl {

int64_t NpyArray::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::vector<float> NpyArray::as_f32() const {
  std::vector<float> out(static_cast<size_t>(numel()));
  if (dtype == "<f4") {
    std::memcpy(out.data(), bytes.data(), out.size() * 4);
  } else if (dtype == "<f8") {
    const double* d = reinterpret_cast<const double*>(bytes.data());
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(d[i]);
  } else {
    fail_format("npy: dtype " + dtype + " is not a float type");
  }
  return out;
}

std::vector<int64_t> NpyArray::as_i64() const {
  std::vector<int64_t> out(static_cast<size_t>(numel()));
  if (dtype == "<i8") {
    std::memcpy(out.data(), bytes.data(), out.size() * 8);
  } else if (dtype == "<i4") {
    const int32_t* d = reinterpret_cast<const int32_t*>(bytes.data());
    for (size_t i = 0; i < out.size(); ++i) out[i] = d[i];
  } else if (dtype == "|u1") {
    for (size_t i = 0; i < out.size(); ++i) out[i] = bytes[i];
  } else {
    fail_format("npy: dtype " + dtype + " is not an integer type");
  }
  return out;
}

std::vector<uint8_t> NpyArray::as_u8() const {
  if (dtype != "|u1") fail_format("npy: dtype " + dtype + " is not uint8");
  return bytes;
}

static size_t dtype_size(const std::string& d, const std::string& path) {
  if (d == "<f4" || d == "<i4") return 4;
  if (d == "<f8" || d == "<i8") return 8;
  if (d == "|u1" || d == "|i1" || d == "|b1") return 1;
  fail_format(path + ": unsupported npy dtype '" + d + "'");
}

// The header is a Python dict literal; we only need three keys, parsed leniently.
static std::string dict_value(const std::string& h, const std::string& key, const std::string& path) {
  auto k = h.find("'" + key + "'");
  if (k == std::string::npos) fail_format(path + ": npy header lacks '" + key + "'");
  auto colon = h.find(':', k);
  if (colon == std::string::npos) fail_format(path + ": npy header malformed near '" + key + "'");
  size_t i = colon + 1;
  while (i < h.size() && h[i] == ' ') ++i;
  if (i >= h.size()) fail_format(path + ": npy header truncated");
  if (h[i] == '\'') {
    auto e = h.find('\'', i + 1);
    if (e == std::string::npos) fail_format(path + ": npy header malformed");
    return h.substr(i + 1, e - i - 1);
  }
  if (h[i] == '(') {
    auto e = h.find(')', i);
    if (e == std::string::npos) fail_format(path + ": npy header malformed");
    return h.substr(i + 1, e - i - 1);
  }
  auto e = h.find_first_of(",}", i);
  return h.substr(i, e - i);
}

NpyArray load_npy(const std::string& path) {
  MappedFile f(path);
  const uint8_t* p = f.data();
  size_t n = f.size();
  if (n < 10 || std::memcmp(p, "\x93NUMPY", 6) != 0) fail_format(path + ": not a .npy file (bad magic)");
  uint8_t major = p[6];
  size_t hlen, hstart;
  if (major == 1) {
    hlen = p[8] | (p[9] << 8);
    hstart = 10;
  } else if (major == 2 || major == 3) {
    if (n < 12) fail_format(path + ": truncated npy header");
    hlen = p[8] | (p[9] << 8) | (size_t(p[10]) << 16) | (size_t(p[11]) << 24);
    hstart = 12;
  } else {
    fail_format(path + ": unsupported npy version " + std::to_string(major));
  }
  if (hstart + hlen > n) fail_format(path + ": npy header runs past end of file");
  std::string h(reinterpret_cast<const char*>(p + hstart), hlen);
  NpyArray a;
  a.dtype = dict_value(h, "descr", path);
  if (dict_value(h, "fortran_order", path).find("False") == std::string::npos)
    fail_format(path + ": fortran-order npy not supported");
  std::string shp = dict_value(h, "shape", path);
  size_t pos = 0;
  while (pos < shp.size()) {
    while (pos < shp.size() && (shp[pos] == ' ' || shp[pos] == ',')) ++pos;
    if (pos >= shp.size()) break;
    size_t e = pos;
    while (e < shp.size() && shp[e] >= '0' && shp[e] <= '9') ++e;
    if (e == pos) fail_format(path + ": bad npy shape '" + shp + "'");
    a.shape.push_back(std::stoll(shp.substr(pos, e - pos)));
    pos = e;
  }
  size_t es = dtype_size(a.dtype, path);
  size_t need = static_cast<size_t>(a.numel()) * es;
  size_t off = hstart + hlen;
  if (need > n - off) fail_format(path + ": npy data truncated (need " + std::to_string(need) + " bytes)");
  a.bytes.assign(p + off, p + off + need);
  return a;
}

void save_npy_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
  std::string shp = "(";
  int64_t n = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    shp += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
    n *= shape[i];
  }
  shp += ")";
  std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shp + ", }";
  while ((10 + h.size() + 1) % 64 != 0) h += ' ';
  h += '\n';
  std::string out = "\x93NUMPY";
  out += char(1);
  out += char(0);
  out += char(h.size() & 0xff);
  out += char(h.size() >> 8);
  out += h;
  out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n) * 4);
  write_file_atomic(path, out.data(), out.size());
}

}  // namespace edgevl

#include "formats/gguf.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace edgevl {

// ---------------------------------------------------------------------------------------
// Types

const char* gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::U8: return "u8";
    case GgufType::I8: return "i8";
    case GgufType::U16: return "u16";
    case GgufType::I16: return "i16";
    case GgufType::U32: return "u32";
    case GgufType::I32: return "i32";
    case GgufType::F32: return "f32";
    case GgufType::BOOL: return "bool";
    case GgufType::STRING: return "string";
    case GgufType::ARRAY: return "array";
    case GgufType::U64: return "u64";
    case GgufType::I64: return "i64";
    case GgufType::F64: return "f64";
  }
  return "?";
}

// Size in bytes of a scalar GGUF value type; 0 for string/array/unknown.
static size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    default: return 0;
  }
}

static bool is_int_type(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16:
    case GgufType::U32: case GgufType::I32: case GgufType::U64: case GgufType::I64: return true;
    default: return false;
  }
}

static bool is_signed_type(GgufType t) {
  return t == GgufType::I8 || t == GgufType::I16 || t == GgufType::I32 || t == GgufType::I64;
}

namespace {
// ggml type traits: name, elements per block, bytes per block (0 = size not known here;
// such tensors are listed but never exposed, so only their offset is range-checked).
struct GgmlTraits {
  const char* name;
  int block;
  size_t bytes;
};
// Index = ggml_type id (ggml.h). Gaps are ids that ggml removed.
const GgmlTraits kGgml[] = {
    {"f32", 1, 4},      {"f16", 1, 2},      {"q4_0", 32, 18},   {"q4_1", 32, 20},     {nullptr, 0, 0},
    {nullptr, 0, 0},    {"q5_0", 32, 22},   {"q5_1", 32, 24},   {"q8_0", 32, 34},     {"q8_1", 32, 36},
    {"q2_K", 256, 84},  {"q3_K", 256, 110}, {"q4_K", 256, 144}, {"q5_K", 256, 176},   {"q6_K", 256, 210},
    {"q8_K", 256, 292}, {"iq2_xxs", 256, 0}, {"iq2_xs", 256, 0}, {"iq3_xxs", 256, 0}, {"iq1_s", 256, 0},
    {"iq4_nl", 32, 0},  {"iq3_s", 256, 0},  {"iq2_s", 256, 0},  {"iq4_xs", 256, 0},   {"i8", 1, 1},
    {"i16", 1, 2},      {"i32", 1, 4},      {"i64", 1, 8},      {"f64", 1, 8},        {"iq1_m", 256, 0},
    {"bf16", 1, 2},     {nullptr, 0, 0},    {nullptr, 0, 0},    {nullptr, 0, 0},      {"tq1_0", 256, 0},
    {"tq2_0", 256, 0},  {nullptr, 0, 0},    {nullptr, 0, 0},    {nullptr, 0, 0},      {"mxfp4", 32, 0},
};
constexpr uint32_t kGgmlCount = sizeof(kGgml) / sizeof(kGgml[0]);
}  // namespace

const char* ggml_type_name(uint32_t t) { return (t < kGgmlCount && kGgml[t].name) ? kGgml[t].name : "unknown"; }

bool ggml_type_to_dtype(uint32_t t, DType* out) {
  DType d;
  switch (t) {
    case ggml_type::F32: d = DType::F32; break;
    case ggml_type::F16: d = DType::F16; break;
    case ggml_type::BF16: d = DType::BF16; break;
    case ggml_type::Q8_0: d = DType::Q8_0; break;
    case ggml_type::Q4_0: d = DType::Q4_0; break;
    case ggml_type::Q4_1: d = DType::Q4_1; break;
    case ggml_type::Q5_0: d = DType::Q5_0; break;
    case ggml_type::Q5_1: d = DType::Q5_1; break;
    case ggml_type::Q2_K: d = DType::Q2_K; break;
    case ggml_type::Q3_K: d = DType::Q3_K; break;
    case ggml_type::Q4_K: d = DType::Q4_K; break;
    case ggml_type::Q5_K: d = DType::Q5_K; break;
    case ggml_type::Q6_K: d = DType::Q6_K; break;
    case ggml_type::I8: d = DType::I8; break;
    case ggml_type::I16: d = DType::I16; break;
    case ggml_type::I32: d = DType::I32; break;
    case ggml_type::I64: d = DType::I64; break;
    default: return false;
  }
  if (out) *out = d;
  return true;
}

uint32_t dtype_to_ggml_type(DType t) {
  switch (t) {
    case DType::F32: return ggml_type::F32;
    case DType::F16: return ggml_type::F16;
    case DType::BF16: return ggml_type::BF16;
    case DType::Q8_0: return ggml_type::Q8_0;
    case DType::Q4_0: return ggml_type::Q4_0;
    case DType::Q4_1: return ggml_type::Q4_1;
    case DType::Q5_0: return ggml_type::Q5_0;
    case DType::Q5_1: return ggml_type::Q5_1;
    case DType::Q2_K: return ggml_type::Q2_K;
    case DType::Q3_K: return ggml_type::Q3_K;
    case DType::Q4_K: return ggml_type::Q4_K;
    case DType::Q5_K: return ggml_type::Q5_K;
    case DType::Q6_K: return ggml_type::Q6_K;
    case DType::I8: return ggml_type::I8;
    case DType::I16: return ggml_type::I16;
    case DType::I32: return ggml_type::I32;
    case DType::I64: return ggml_type::I64;
    default: break;
  }
  fail(ErrorCode::kUnsupported, std::string("GGUF has no tensor type for ") + dtype_name(t));
}

// ---------------------------------------------------------------------------------------
// GgufValue

GgufValue GgufValue::u8(uint8_t v) { GgufValue x; x.type_ = GgufType::U8; x.u_ = v; return x; }
GgufValue GgufValue::i8(int8_t v) { GgufValue x; x.type_ = GgufType::I8; x.i_ = v; return x; }
GgufValue GgufValue::u16(uint16_t v) { GgufValue x; x.type_ = GgufType::U16; x.u_ = v; return x; }
GgufValue GgufValue::i16(int16_t v) { GgufValue x; x.type_ = GgufType::I16; x.i_ = v; return x; }
GgufValue GgufValue::u32(uint32_t v) { GgufValue x; x.type_ = GgufType::U32; x.u_ = v; return x; }
GgufValue GgufValue::i32(int32_t v) { GgufValue x; x.type_ = GgufType::I32; x.i_ = v; return x; }
GgufValue GgufValue::u64(uint64_t v) { GgufValue x; x.type_ = GgufType::U64; x.u_ = v; return x; }
GgufValue GgufValue::i64(int64_t v) { GgufValue x; x.type_ = GgufType::I64; x.i_ = v; return x; }
GgufValue GgufValue::f32(float v) { GgufValue x; x.type_ = GgufType::F32; x.f_ = v; return x; }
GgufValue GgufValue::f64(double v) { GgufValue x; x.type_ = GgufType::F64; x.f_ = v; return x; }
GgufValue GgufValue::boolean(bool v) { GgufValue x; x.type_ = GgufType::BOOL; x.u_ = v ? 1 : 0; return x; }
GgufValue GgufValue::string(std::string v) { GgufValue x; x.type_ = GgufType::STRING; x.s_ = std::move(v); return x; }

GgufValue GgufValue::numeric_array(GgufType elem, const void* data, uint64_t count) {
  const size_t es = scalar_size(elem);
  if (es == 0) fail(ErrorCode::kInvalidArgument, std::string("GGUF numeric array of ") + gguf_type_name(elem));
  GgufValue x;
  x.type_ = GgufType::ARRAY;
  x.atype_ = elem;
  x.raw_.resize(static_cast<size_t>(count) * es);
  if (count) std::memcpy(x.raw_.data(), data, x.raw_.size());
  return x;
}

GgufValue GgufValue::string_array(std::vector<std::string> v) {
  GgufValue x;
  x.type_ = GgufType::ARRAY;
  x.atype_ = GgufType::STRING;
  x.strs_ = std::move(v);
  return x;
}

template <typename T> struct GgufTypeOf;
template <> struct GgufTypeOf<uint8_t> { static constexpr GgufType v = GgufType::U8; };
template <> struct GgufTypeOf<int8_t> { static constexpr GgufType v = GgufType::I8; };
template <> struct GgufTypeOf<uint16_t> { static constexpr GgufType v = GgufType::U16; };
template <> struct GgufTypeOf<int16_t> { static constexpr GgufType v = GgufType::I16; };
template <> struct GgufTypeOf<uint32_t> { static constexpr GgufType v = GgufType::U32; };
template <> struct GgufTypeOf<int32_t> { static constexpr GgufType v = GgufType::I32; };
template <> struct GgufTypeOf<uint64_t> { static constexpr GgufType v = GgufType::U64; };
template <> struct GgufTypeOf<int64_t> { static constexpr GgufType v = GgufType::I64; };
template <> struct GgufTypeOf<float> { static constexpr GgufType v = GgufType::F32; };
template <> struct GgufTypeOf<double> { static constexpr GgufType v = GgufType::F64; };

template <typename T>
GgufValue GgufValue::array(const std::vector<T>& v) {
  return numeric_array(GgufTypeOf<T>::v, v.data(), v.size());
}
template GgufValue GgufValue::array(const std::vector<uint8_t>&);
template GgufValue GgufValue::array(const std::vector<int8_t>&);
template GgufValue GgufValue::array(const std::vector<uint16_t>&);
template GgufValue GgufValue::array(const std::vector<int16_t>&);
template GgufValue GgufValue::array(const std::vector<uint32_t>&);
template GgufValue GgufValue::array(const std::vector<int32_t>&);
template GgufValue GgufValue::array(const std::vector<uint64_t>&);
template GgufValue GgufValue::array(const std::vector<int64_t>&);
template GgufValue GgufValue::array(const std::vector<float>&);
template GgufValue GgufValue::array(const std::vector<double>&);

uint64_t GgufValue::array_size() const {
  if (type_ != GgufType::ARRAY) return 0;
  if (atype_ == GgufType::STRING) return strs_.size();
  return raw_.size() / scalar_size(atype_);
}

bool GgufValue::is_integer() const { return is_int_type(type_); }
bool GgufValue::is_float() const { return type_ == GgufType::F32 || type_ == GgufType::F64; }

[[noreturn]] static void wrong_type(const std::string& what, const GgufValue& v, const char* expected) {
  fail_format(what + " has type " + (v.type() == GgufType::ARRAY ? std::string("array<") + gguf_type_name(v.array_type()) + ">"
                                                                  : std::string(gguf_type_name(v.type()))) +
              ", expected " + expected);
}

int64_t GgufValue::to_int(const std::string& what) const {
  if (!is_integer()) wrong_type(what, *this, "an integer");
  if (is_signed_type(type_)) return i_;
  if (u_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) fail_format(what + " = " + std::to_string(u_) + " is too large");
  return static_cast<int64_t>(u_);
}

double GgufValue::to_float(const std::string& what) const {
  if (is_float()) return f_;
  if (is_integer()) return is_signed_type(type_) ? static_cast<double>(i_) : static_cast<double>(u_);
  wrong_type(what, *this, "a number");
}

bool GgufValue::to_bool(const std::string& what) const {
  if (type_ != GgufType::BOOL) wrong_type(what, *this, "bool");
  return u_ != 0;
}

const std::string& GgufValue::to_string(const std::string& what) const {
  if (type_ != GgufType::STRING) wrong_type(what, *this, "string");
  return s_;
}

// Reads element i of a numeric array as int64 / double.
template <typename T>
static T load_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

std::vector<int64_t> GgufValue::to_int_array(const std::string& what) const {
  if (type_ != GgufType::ARRAY || !(is_int_type(atype_) || atype_ == GgufType::BOOL)) wrong_type(what, *this, "an array of integers");
  const size_t n = array_size(), es = scalar_size(atype_);
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = raw_.data() + i * es;
    switch (atype_) {
      case GgufType::U8: case GgufType::BOOL: out[i] = *p; break;
      case GgufType::I8: out[i] = static_cast<int8_t>(*p); break;
      case GgufType::U16: out[i] = load_le<uint16_t>(p); break;
      case GgufType::I16: out[i] = load_le<int16_t>(p); break;
      case GgufType::U32: out[i] = load_le<uint32_t>(p); break;
      case GgufType::I32: out[i] = load_le<int32_t>(p); break;
      case GgufType::I64: out[i] = load_le<int64_t>(p); break;
      case GgufType::U64: {
        uint64_t u = load_le<uint64_t>(p);
        if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          fail_format(what + "[" + std::to_string(i) + "] = " + std::to_string(u) + " is too large");
        out[i] = static_cast<int64_t>(u);
        break;
      }
      default: break;
    }
  }
  return out;
}

std::vector<float> GgufValue::to_float_array(const std::string& what) const {
  if (type_ != GgufType::ARRAY || (atype_ != GgufType::F32 && atype_ != GgufType::F64)) wrong_type(what, *this, "an array of floats");
  const size_t n = array_size();
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i)
    out[i] = atype_ == GgufType::F32 ? load_le<float>(raw_.data() + 4 * i) : static_cast<float>(load_le<double>(raw_.data() + 8 * i));
  return out;
}

const std::vector<std::string>& GgufValue::to_string_array(const std::string& what) const {
  if (type_ != GgufType::ARRAY || atype_ != GgufType::STRING) wrong_type(what, *this, "an array of strings");
  return strs_;
}

std::string GgufValue::describe() const {
  switch (type_) {
    case GgufType::STRING: {
      std::string s = s_.size() > 60 ? s_.substr(0, 60) + "..." : s_;
      return "string \"" + s + "\"";
    }
    case GgufType::ARRAY: return std::string("array<") + gguf_type_name(atype_) + ">[" + std::to_string(array_size()) + "]";
    case GgufType::BOOL: return u_ ? "bool true" : "bool false";
    case GgufType::F32: case GgufType::F64: return std::string(gguf_type_name(type_)) + " " + std::to_string(f_);
    default:
      return std::string(gguf_type_name(type_)) + " " + (is_signed_type(type_) ? std::to_string(i_) : std::to_string(u_));
  }
}

bool GgufValue::operator==(const GgufValue& o) const {
  if (type_ != o.type_) return false;
  if (type_ == GgufType::ARRAY) return atype_ == o.atype_ && raw_ == o.raw_ && strs_ == o.strs_;
  if (type_ == GgufType::F32 || type_ == GgufType::F64) return f_ == o.f_ || (f_ != f_ && o.f_ != o.f_);
  return u_ == o.u_ && i_ == o.i_ && s_ == o.s_;
}

// ---------------------------------------------------------------------------------------
// Reader

namespace {

// A bounds-checked cursor over the mapped header.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size, const std::string& path) : d_(data), n_(size), path_(path) {}
  size_t pos() const { return pos_; }
  size_t left() const { return n_ - pos_; }

  void need(size_t k, const char* what) const {
    if (k > left())
      fail_format(path_ + ": truncated: needs " + std::to_string(k) + " bytes for " + what + " at offset " + std::to_string(pos_) +
                  ", file has " + std::to_string(n_) + " bytes");
  }
  template <typename T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, d_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  const uint8_t* take(size_t k, const char* what) {
    need(k, what);
    const uint8_t* p = d_ + pos_;
    pos_ += k;
    return p;
  }
  std::string str(const char* what) {
    const uint64_t len = get<uint64_t>(what);
    if (len > left())
      fail_format(path_ + ": " + what + " claims a string of " + std::to_string(len) + " bytes at offset " + std::to_string(pos_) +
                  " but only " + std::to_string(left()) + " bytes remain");
    const uint8_t* p = take(static_cast<size_t>(len), what);
    return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(len));
  }

 private:
  const uint8_t* d_;
  size_t n_;
  size_t pos_ = 0;
  const std::string& path_;
};

GgufValue read_value(Cursor& c, GgufType t, const std::string& path, const std::string& key) {
  const std::string what = "value of '" + key + "'";
  GgufValue v;
  switch (t) {
    case GgufType::U8: return GgufValue::u8(c.get<uint8_t>(what.c_str()));
    case GgufType::I8: return GgufValue::i8(c.get<int8_t>(what.c_str()));
    case GgufType::U16: return GgufValue::u16(c.get<uint16_t>(what.c_str()));
    case GgufType::I16: return GgufValue::i16(c.get<int16_t>(what.c_str()));
    case GgufType::U32: return GgufValue::u32(c.get<uint32_t>(what.c_str()));
    case GgufType::I32: return GgufValue::i32(c.get<int32_t>(what.c_str()));
    case GgufType::U64: return GgufValue::u64(c.get<uint64_t>(what.c_str()));
    case GgufType::I64: return GgufValue::i64(c.get<int64_t>(what.c_str()));
    case GgufType::F32: return GgufValue::f32(c.get<float>(what.c_str()));
    case GgufType::F64: return GgufValue::f64(c.get<double>(what.c_str()));
    case GgufType::BOOL: {
      uint8_t b = c.get<uint8_t>(what.c_str());
      if (b > 1) fail_format(path + ": key '" + key + "': bool value " + std::to_string(b) + " is neither 0 nor 1");
      return GgufValue::boolean(b != 0);
    }
    case GgufType::STRING: return GgufValue::string(c.str(what.c_str()));
    case GgufType::ARRAY: {
      const uint32_t et = c.get<uint32_t>(what.c_str());
      const uint64_t count = c.get<uint64_t>(what.c_str());
      const GgufType e = static_cast<GgufType>(et);
      if (e == GgufType::ARRAY) fail(ErrorCode::kUnsupported, path + ": key '" + key + "' is an array of arrays, which edgevl does not read");
      if (e == GgufType::STRING) {
        // Every string needs at least its 8-byte length: bound the count before allocating.
        if (count > c.left() / 8)
          fail_format(path + ": key '" + key + "' claims " + std::to_string(count) + " strings but only " + std::to_string(c.left()) +
                      " bytes remain");
        std::vector<std::string> s;
        s.reserve(static_cast<size_t>(std::min<uint64_t>(count, 1 << 20)));
        for (uint64_t i = 0; i < count; ++i) s.push_back(c.str(what.c_str()));
        return GgufValue::string_array(std::move(s));
      }
      const size_t es = scalar_size(e);
      if (es == 0) fail_format(path + ": key '" + key + "' has an array of unknown value type " + std::to_string(et));
      if (count > c.left() / es)
        fail_format(path + ": key '" + key + "' claims " + std::to_string(count) + " elements of " + gguf_type_name(e) + " but only " +
                    std::to_string(c.left()) + " bytes remain");
      const uint8_t* p = c.take(static_cast<size_t>(count) * es, what.c_str());
      if (e == GgufType::BOOL)
        for (uint64_t i = 0; i < count; ++i)
          if (p[i] > 1) fail_format(path + ": key '" + key + "': bool element " + std::to_string(i) + " is neither 0 nor 1");
      return GgufValue::numeric_array(e, p, count);
    }
  }
  fail_format(path + ": key '" + key + "' has unknown value type " + std::to_string(static_cast<uint32_t>(t)));
}

}  // namespace

GgufFile::GgufFile(const std::string& path) : file_(path) {
  const std::string& p = file_.path();
  Cursor c(file_.data(), file_.size(), p);
  if (file_.size() < 4) fail_format(p + ": too small for a GGUF file (" + std::to_string(file_.size()) + " bytes)");
  const uint32_t magic = c.get<uint32_t>("magic");
  if (magic != kGgufMagic) fail_format(p + ": not a GGUF file (bad magic)");
  version_ = c.get<uint32_t>("version");
  if (version_ == 1) fail(ErrorCode::kUnsupported, p + ": GGUF version 1 is not supported (convert it with a newer llama.cpp)");
  if (version_ != 2 && version_ != 3) {
    // A big-endian file reads its version byte-swapped (e.g. 0x03000000).
    fail(ErrorCode::kUnsupported, p + ": unknown GGUF version " + std::to_string(version_) + " (edgevl reads 2 and 3, little-endian)");
  }
  const uint64_t n_tensors = c.get<uint64_t>("tensor count");
  const uint64_t n_kv = c.get<uint64_t>("metadata count");
  // Each key-value pair takes at least 8 (key length) + 4 (type) + 1 bytes, each tensor info
  // at least 8 + 4 + 8 + 4 + 8: reject counts the file cannot possibly hold.
  if (n_kv > c.left() / 13) fail_format(p + ": header claims " + std::to_string(n_kv) + " metadata entries, more than the file can hold");
  if (n_tensors > c.left() / 32) fail_format(p + ": header claims " + std::to_string(n_tensors) + " tensors, more than the file can hold");
  // In memory an entry costs far more than its smallest encoding; real files have at most a
  // few hundred keys and tens of thousands of tensors.
  if (n_kv > (1u << 20)) fail_format(p + ": header claims " + std::to_string(n_kv) + " metadata entries (limit 1048576)");
  if (n_tensors > (1u << 22)) fail_format(p + ": header claims " + std::to_string(n_tensors) + " tensors (limit 4194304)");

  kv_.reserve(static_cast<size_t>(std::min<uint64_t>(n_kv, 1024)));
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.str("metadata key");
    if (key.empty()) fail_format(p + ": metadata entry " + std::to_string(i) + " has an empty key");
    const uint32_t t = c.get<uint32_t>("metadata value type");
    if (t > static_cast<uint32_t>(GgufType::F64)) fail_format(p + ": key '" + key + "' has unknown value type " + std::to_string(t));
    GgufValue v = read_value(c, static_cast<GgufType>(t), p, key);
    if (kv_index_.count(key)) fail_format(p + ": duplicate metadata key '" + key + "'");
    kv_index_[key] = kv_.size();
    kv_.emplace_back(std::move(key), std::move(v));
  }

  if (const GgufValue* a = find_key("general.alignment")) {
    if (a->type() != GgufType::U32) fail_format(p + ": general.alignment has type " + gguf_type_name(a->type()) + ", expected u32");
    const uint64_t al = a->u_;
    if (al == 0 || (al & (al - 1)) != 0 || al > (1u << 20))
      fail_format(p + ": general.alignment = " + std::to_string(al) + " is not a power of two (up to 1 MiB)");
    alignment_ = static_cast<uint32_t>(al);
  }

  infos_.reserve(static_cast<size_t>(std::min<uint64_t>(n_tensors, 1 << 16)));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo ti;
    ti.name = c.str("tensor name");
    if (ti.name.empty()) fail_format(p + ": tensor " + std::to_string(i) + " has an empty name");
    const std::string where = p + ": tensor '" + ti.name + "'";
    if (info_index_.count(ti.name)) fail_format(where + " appears twice");
    const uint32_t n_dims = c.get<uint32_t>("tensor dimension count");
    if (n_dims == 0 || n_dims > 4) fail_format(where + " has " + std::to_string(n_dims) + " dimensions (GGUF allows 1 to 4)");
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne = c.get<uint64_t>("tensor dimensions");
      if (ne > (uint64_t(1) << 50)) fail_format(where + " has absurd dimension " + std::to_string(ne));
      if (ne != 0 && numel > (uint64_t(1) << 62) / ne) fail_format(where + ": element count overflows");
      numel *= ne;
      ti.ne.push_back(static_cast<int64_t>(ne));
    }
    ti.ggml_type = c.get<uint32_t>("tensor type");
    ti.offset = c.get<uint64_t>("tensor offset");
    if (ti.ggml_type >= kGgmlCount || !kGgml[ti.ggml_type].name)
      fail_format(where + " has unknown ggml type " + std::to_string(ti.ggml_type));
    const GgmlTraits& tr = kGgml[ti.ggml_type];
    if (ti.ne[0] % tr.block != 0)
      fail_format(where + ": row length " + std::to_string(ti.ne[0]) + " is not a multiple of the " + tr.name + " block size " +
                  std::to_string(tr.block));
    if (tr.bytes) ti.nbytes = static_cast<size_t>(numel / tr.block * tr.bytes);
    ti.supported = ggml_type_to_dtype(ti.ggml_type, nullptr);
    info_index_[ti.name] = infos_.size();
    infos_.push_back(std::move(ti));
  }

  const size_t header_end = c.pos();
  data_offset_ = (header_end + alignment_ - 1) / alignment_ * alignment_;
  if (data_offset_ > file_.size() && !infos_.empty())
    fail_format(p + ": truncated: the data section would start at " + std::to_string(data_offset_) + ", past the end of the file (" +
                std::to_string(file_.size()) + " bytes)");
  const uint64_t data_size = file_.size() > data_offset_ ? file_.size() - data_offset_ : 0;

  // Range, alignment and overlap checks, then the TensorRefs.
  std::vector<const GgufTensorInfo*> by_offset;
  for (const auto& ti : infos_) {
    const std::string where = p + ": tensor '" + ti.name + "'";
    if (ti.offset % alignment_ != 0)
      fail_format(where + ": data offset " + std::to_string(ti.offset) + " is not a multiple of the alignment " + std::to_string(alignment_));
    if (ti.offset > data_size || ti.nbytes > data_size - ti.offset)
      fail_format(where + ": data [" + std::to_string(ti.offset) + ", " + std::to_string(ti.offset + ti.nbytes) +
                  ") is out of range (data section has " + std::to_string(data_size) + " bytes; file truncated?)");
    if (ti.nbytes) by_offset.push_back(&ti);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i - 1]->offset + by_offset[i - 1]->nbytes > by_offset[i]->offset)
      fail_format(p + ": tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap");

  for (const auto& ti : infos_) {
    if (!ti.supported) continue;
    TensorRef r;
    r.name = ti.name;
    r.file = p;
    ggml_type_to_dtype(ti.ggml_type, &r.dtype);
    r.shape.assign(ti.ne.rbegin(), ti.ne.rend());
    r.data = file_.data() + data_offset_ + ti.offset;
    r.nbytes = ti.nbytes;
    tensors_.emplace(r.name, std::move(r));
  }
}

const GgufValue* GgufFile::find_key(const std::string& key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const GgufValue& GgufFile::get_key(const std::string& key) const {
  const GgufValue* v = find_key(key);
  if (!v) fail_format(path() + ": missing metadata key '" + key + "'");
  return *v;
}

static std::string what_of(const GgufFile& f, const std::string& key) { return f.path() + ": key '" + key + "'"; }

std::string GgufFile::get_string(const std::string& key) const { return get_key(key).to_string(what_of(*this, key)); }
std::string GgufFile::get_string(const std::string& key, const std::string& def) const {
  const GgufValue* v = find_key(key);
  return v ? v->to_string(what_of(*this, key)) : def;
}
int64_t GgufFile::get_int(const std::string& key) const { return get_key(key).to_int(what_of(*this, key)); }
int64_t GgufFile::get_int(const std::string& key, int64_t def) const {
  const GgufValue* v = find_key(key);
  return v ? v->to_int(what_of(*this, key)) : def;
}
int64_t GgufFile::get_int_in(const std::string& key, int64_t lo, int64_t hi) const {
  const int64_t x = get_int(key);
  if (x < lo || x > hi)
    fail_format(what_of(*this, key) + " = " + std::to_string(x) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return x;
}
double GgufFile::get_float(const std::string& key) const { return get_key(key).to_float(what_of(*this, key)); }
double GgufFile::get_float(const std::string& key, double def) const {
  const GgufValue* v = find_key(key);
  return v ? v->to_float(what_of(*this, key)) : def;
}
bool GgufFile::get_bool(const std::string& key) const { return get_key(key).to_bool(what_of(*this, key)); }
bool GgufFile::get_bool(const std::string& key, bool def) const {
  const GgufValue* v = find_key(key);
  return v ? v->to_bool(what_of(*this, key)) : def;
}
std::vector<int64_t> GgufFile::get_int_array(const std::string& key) const { return get_key(key).to_int_array(what_of(*this, key)); }
std::vector<float> GgufFile::get_float_array(const std::string& key) const { return get_key(key).to_float_array(what_of(*this, key)); }
const std::vector<std::string>& GgufFile::get_string_array(const std::string& key) const {
  return get_key(key).to_string_array(what_of(*this, key));
}

const TensorRef* GgufFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it != tensors_.end()) return &it->second;
  auto ii = info_index_.find(name);
  if (ii != info_index_.end()) {
    const GgufTensorInfo& ti = infos_[ii->second];
    fail(ErrorCode::kUnsupported, path() + ": tensor '" + name + "' has ggml type " + ggml_type_name(ti.ggml_type) + " (" +
                                      std::to_string(ti.ggml_type) +
                                      "), which edgevl cannot compute with (supported: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_K, q3_K, q4_K, q5_K, q6_K); "
                                      "requantize the file to one of those");
  }
  return nullptr;
}

std::string GgufFile::summary(size_t max_tensors) const {
  std::string s = path() + ": GGUF v" + std::to_string(version_) + ", " + std::to_string(kv_.size()) + " keys, " +
                  std::to_string(infos_.size()) + " tensors, alignment " + std::to_string(alignment_) + ", data at " +
                  std::to_string(data_offset_) + "\n";
  for (const auto& kv : kv_) s += "  " + kv.first + " = " + kv.second.describe() + "\n";
  size_t shown = 0;
  for (const auto& ti : infos_) {
    if (shown++ == max_tensors) {
      s += "  ... " + std::to_string(infos_.size() - max_tensors) + " more tensors\n";
      break;
    }
    std::string shape;
    for (auto it = ti.ne.rbegin(); it != ti.ne.rend(); ++it) shape += (shape.empty() ? "" : ", ") + std::to_string(*it);
    s += "  " + ti.name + " " + ggml_type_name(ti.ggml_type) + " [" + shape + "] @" + std::to_string(ti.offset) +
         (ti.supported ? "" : " (unsupported type)") + "\n";
  }
  return s;
}

std::vector<std::string> GgufFile::names() const {
  std::vector<std::string> n;
  n.reserve(infos_.size());
  for (const auto& ti : infos_) n.push_back(ti.name);
  return n;
}

// ---------------------------------------------------------------------------------------
// Writer

GgufWriter::GgufWriter(std::string path, uint32_t alignment) : path_(std::move(path)), alignment_(alignment) {
  if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0)
    fail(ErrorCode::kInvalidArgument, path_ + ": GGUF alignment " + std::to_string(alignment_) + " is not a power of two");
  if (alignment_ != kGgufDefaultAlignment) set("general.alignment", GgufValue::u32(alignment_));
}

GgufWriter::~GgufWriter() {
  if (f_) {
    std::fclose(f_);
    f_ = nullptr;
  }
  if (!finished_ && !tmp_.empty()) ::unlink(tmp_.c_str());
}

void GgufWriter::set(const std::string& key, GgufValue v) {
  if (header_written_) fail(ErrorCode::kInvalidArgument, path_ + ": metadata '" + key + "' set after tensor data began");
  if (key.empty()) fail(ErrorCode::kInvalidArgument, path_ + ": empty metadata key");
  if (v.type() == GgufType::ARRAY && v.array_type() == GgufType::ARRAY)
    fail(ErrorCode::kInvalidArgument, path_ + ": metadata '" + key + "': arrays of arrays are not written");
  for (auto& kv : kv_)
    if (kv.first == key) {
      kv.second = std::move(v);
      return;
    }
  kv_.emplace_back(key, std::move(v));
}

void GgufWriter::add_tensor(const std::string& name, DType type, const std::vector<int64_t>& shape) {
  if (header_written_) fail(ErrorCode::kInvalidArgument, path_ + ": tensor '" + name + "' added after tensor data began");
  if (name.empty()) fail(ErrorCode::kInvalidArgument, path_ + ": empty tensor name");
  if (tensor_index_.count(name)) fail(ErrorCode::kInvalidArgument, path_ + ": tensor '" + name + "' added twice");
  if (shape.empty() || shape.size() > 4)
    fail(ErrorCode::kInvalidArgument, path_ + ": tensor '" + name + "' has " + std::to_string(shape.size()) + " dimensions (GGUF allows 1 to 4)");
  int64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) fail(ErrorCode::kInvalidArgument, path_ + ": tensor '" + name + "' has a negative dimension");
    numel *= d;
  }
  dtype_to_ggml_type(type);  // throws for types GGUF cannot hold
  const int64_t inner = shape.back();
  if (inner % dtype_block_size(type) != 0)
    fail(ErrorCode::kInvalidArgument, path_ + ": tensor '" + name + "': row length " + std::to_string(inner) + " is not a multiple of the " +
                                          dtype_name(type) + " block size");
  Pending t;
  t.name = name;
  t.type = type;
  t.shape = shape;
  t.nbytes = static_cast<size_t>(numel / dtype_block_size(type)) * dtype_block_bytes(type);
  uint64_t off = 0;
  if (!tensors_.empty()) {
    const Pending& last = tensors_.back();
    off = (last.offset + last.nbytes + alignment_ - 1) / alignment_ * alignment_;
  }
  t.offset = off;
  tensor_index_[name] = tensors_.size();
  tensors_.push_back(std::move(t));
}

void GgufWriter::put(const void* p, size_t n) {
  if (n && std::fwrite(p, 1, n, f_) != n) fail(ErrorCode::kIo, path_ + ": write failed: " + std::strerror(errno));
  pos_ += n;
}

void GgufWriter::put_string(const std::string& s) {
  const uint64_t n = s.size();
  put(&n, 8);
  put(s.data(), s.size());
}

void GgufWriter::put_value(const GgufValue& v) {
  switch (v.type_) {
    case GgufType::U8: case GgufType::BOOL: { uint8_t x = static_cast<uint8_t>(v.u_); put(&x, 1); break; }
    case GgufType::I8: { int8_t x = static_cast<int8_t>(v.i_); put(&x, 1); break; }
    case GgufType::U16: { uint16_t x = static_cast<uint16_t>(v.u_); put(&x, 2); break; }
    case GgufType::I16: { int16_t x = static_cast<int16_t>(v.i_); put(&x, 2); break; }
    case GgufType::U32: { uint32_t x = static_cast<uint32_t>(v.u_); put(&x, 4); break; }
    case GgufType::I32: { int32_t x = static_cast<int32_t>(v.i_); put(&x, 4); break; }
    case GgufType::U64: put(&v.u_, 8); break;
    case GgufType::I64: put(&v.i_, 8); break;
    case GgufType::F32: { float x = static_cast<float>(v.f_); put(&x, 4); break; }
    case GgufType::F64: put(&v.f_, 8); break;
    case GgufType::STRING: put_string(v.s_); break;
    case GgufType::ARRAY: {
      const uint32_t et = static_cast<uint32_t>(v.atype_);
      const uint64_t n = v.array_size();
      put(&et, 4);
      put(&n, 8);
      if (v.atype_ == GgufType::STRING)
        for (const auto& s : v.strs_) put_string(s);
      else
        put(v.raw_.data(), v.raw_.size());
      break;
    }
  }
}

void GgufWriter::pad_to_alignment() {
  static const uint8_t zeros[64] = {};
  uint64_t target = (pos_ + alignment_ - 1) / alignment_ * alignment_;
  while (pos_ < target) put(zeros, static_cast<size_t>(std::min<uint64_t>(64, target - pos_)));
}

void GgufWriter::write_header() {
  tmp_ = path_ + ".tmp." + std::to_string(::getpid());
  f_ = std::fopen(tmp_.c_str(), "wb");
  if (!f_) fail(ErrorCode::kIo, tmp_ + ": cannot create: " + std::strerror(errno));
  std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
  const uint32_t magic = kGgufMagic, version = kGgufVersion;
  const uint64_t n_tensors = tensors_.size(), n_kv = kv_.size();
  put(&magic, 4);
  put(&version, 4);
  put(&n_tensors, 8);
  put(&n_kv, 8);
  for (const auto& kv : kv_) {
    put_string(kv.first);
    const uint32_t t = static_cast<uint32_t>(kv.second.type_);
    put(&t, 4);
    put_value(kv.second);
  }
  for (const auto& t : tensors_) {
    put_string(t.name);
    const uint32_t n_dims = static_cast<uint32_t>(t.shape.size());
    put(&n_dims, 4);
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) {  // innermost first
      const uint64_t ne = static_cast<uint64_t>(*it);
      put(&ne, 8);
    }
    const uint32_t gt = dtype_to_ggml_type(t.type);
    put(&gt, 4);
    put(&t.offset, 8);
  }
  pad_to_alignment();
  data_start_ = pos_;
  header_written_ = true;
}

void GgufWriter::write_tensor_data(const std::string& name, const void* data, size_t nbytes) {
  if (finished_) fail(ErrorCode::kInvalidArgument, path_ + ": write after finish()");
  if (!header_written_) write_header();
  auto it = tensor_index_.find(name);
  if (it == tensor_index_.end()) fail(ErrorCode::kInvalidArgument, path_ + ": tensor '" + name + "' was not added");
  if (it->second != next_tensor_)
    fail(ErrorCode::kInvalidArgument, path_ + ": tensor '" + name + "' written out of order (expected '" +
                                          (next_tensor_ < tensors_.size() ? tensors_[next_tensor_].name : std::string("none")) + "')");
  const Pending& t = tensors_[next_tensor_];
  if (nbytes != t.nbytes)
    fail(ErrorCode::kInvalidArgument, path_ + ": tensor '" + name + "' has " + std::to_string(nbytes) + " bytes of data, its shape needs " +
                                          std::to_string(t.nbytes));
  pad_to_alignment();
  if (pos_ != data_start_ + t.offset) fail(ErrorCode::kInternal, path_ + ": tensor '" + name + "' offset mismatch");
  put(data, nbytes);
  ++next_tensor_;
}

void GgufWriter::finish() {
  if (finished_) return;
  if (!header_written_) write_header();
  if (next_tensor_ != tensors_.size())
    fail(ErrorCode::kInvalidArgument, path_ + ": finish() before the data of tensor '" + tensors_[next_tensor_].name + "' was written");
  pad_to_alignment();  // so the last tensor, too, ends on an aligned size (as llama.cpp writes)
  if (std::fflush(f_) != 0 || ::fsync(fileno(f_)) != 0) fail(ErrorCode::kIo, path_ + ": flush failed: " + std::strerror(errno));
  const int rc = std::fclose(f_);
  f_ = nullptr;
  if (rc != 0) fail(ErrorCode::kIo, path_ + ": close failed: " + std::strerror(errno));
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) fail(ErrorCode::kIo, path_ + ": rename failed: " + std::strerror(errno));
  finished_ = true;
}

}  // namespace edgevl

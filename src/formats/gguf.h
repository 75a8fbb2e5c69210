// GGUF: llama.cpp's single-file model format (https://github.com/ggml-org/ggml, docs/gguf.md).
//
// Layout (all little-endian; v2 and v3 are identical for little-endian files, v1 is not read):
//   u32 magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
//   n_kv × { string key | u32 value_type | value }             string = u64 length + bytes (no NUL)
//   n_tensors × { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
//   padding to `general.alignment` (u32, default 32)
//   tensor data; each tensor at data_start + offset, offsets multiples of the alignment.
// ne[] is innermost-first (ne[0] = row length); TensorRef shapes here are reversed to the
// PyTorch order (outermost first), so a GGUF matrix ne = [K, N] is shape [N, K].
//
// GgufFile maps the file and checks everything against its size before trusting it:
// hostile input gives an edgevl::Error naming the file and the problem, never a crash or a
// huge allocation. GgufWriter streams a file: header and tensor infos first, then each
// tensor's data in declaration order, into a temp file renamed into place by finish().
#pragma once
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/mmap_file.h"
#include "formats/tensor_source.h"

namespace edgevl {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint32_t kGgufVersion = 3;
constexpr uint32_t kGgufDefaultAlignment = 32;

enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* gguf_type_name(GgufType t);  // "u32", "string", "array", ... ("?" if unknown)

// ggml tensor type ids (ggml.h enum ggml_type) that edgevl maps to a DType.
namespace ggml_type {
constexpr uint32_t F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, I8 = 24, I16 = 25, I32 = 26, I64 = 27, BF16 = 30;
}
const char* ggml_type_name(uint32_t t);           // "q4_K", ... (ggml spelling) or "unknown"
bool ggml_type_to_dtype(uint32_t t, DType* out);  // false for types edgevl has no kernels for
uint32_t dtype_to_ggml_type(DType t);             // throws kUnsupported (e.g. u8)

// One metadata value: a scalar, a string, or an array of scalars / strings.
class GgufValue {
 public:
  GgufValue() = default;
  static GgufValue u8(uint8_t v);
  static GgufValue i8(int8_t v);
  static GgufValue u16(uint16_t v);
  static GgufValue i16(int16_t v);
  static GgufValue u32(uint32_t v);
  static GgufValue i32(int32_t v);
  static GgufValue u64(uint64_t v);
  static GgufValue i64(int64_t v);
  static GgufValue f32(float v);
  static GgufValue f64(double v);
  static GgufValue boolean(bool v);
  static GgufValue string(std::string v);
  // Arrays of a numeric type: elements as raw little-endian bytes of elem's size.
  static GgufValue numeric_array(GgufType elem, const void* data, uint64_t count);
  static GgufValue string_array(std::vector<std::string> v);
  template <typename T>
  static GgufValue array(const std::vector<T>& v);  // T in {u8..i64, float, double}

  GgufType type() const { return type_; }
  GgufType array_type() const { return atype_; }  // meaningful when type() == ARRAY
  uint64_t array_size() const;
  bool is_integer() const;  // integer scalar
  bool is_float() const;    // f32 / f64 scalar

  // Checked conversions; `what` names the value (file and key) in the error message.
  int64_t to_int(const std::string& what) const;          // any integer scalar that fits int64
  double to_float(const std::string& what) const;         // f32/f64 (integers are accepted too)
  bool to_bool(const std::string& what) const;            // bool
  const std::string& to_string(const std::string& what) const;
  std::vector<int64_t> to_int_array(const std::string& what) const;  // array of integers (or bools)
  std::vector<float> to_float_array(const std::string& what) const;  // array of f32/f64
  const std::vector<std::string>& to_string_array(const std::string& what) const;

  std::string describe() const;  // short human form: "u32 7", "string \"qwen2vl\"", "array<string>[151936]"

  bool operator==(const GgufValue& o) const;

 private:
  friend class GgufFile;
  friend class GgufWriter;
  GgufType type_ = GgufType::U8;
  GgufType atype_ = GgufType::U8;
  uint64_t u_ = 0;  // unsigned integers, bool
  int64_t i_ = 0;   // signed integers
  double f_ = 0;    // floats
  std::string s_;
  std::vector<uint8_t> raw_;         // numeric array elements
  std::vector<std::string> strs_;    // string array elements
};

struct GgufTensorInfo {
  std::string name;
  uint32_t ggml_type = 0;
  std::vector<int64_t> ne;  // innermost first, as stored
  uint64_t offset = 0;      // relative to the data section
  size_t nbytes = 0;        // 0 when the type's size is unknown to edgevl
  bool supported = false;   // maps to a DType
};

class GgufFile : public TensorSource {
 public:
  explicit GgufFile(const std::string& path);  // validates the whole header and every tensor's range

  const std::string& path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }

  // Metadata, in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* find_key(const std::string& key) const;
  bool has_key(const std::string& key) const { return find_key(key) != nullptr; }
  const GgufValue& get_key(const std::string& key) const;  // kFormat naming file and key if missing
  // Typed getters: kFormat naming the file, the key and the types when missing or mistyped.
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& def) const;
  int64_t get_int(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t def) const;
  // Integer that must lie in [lo, hi].
  int64_t get_int_in(const std::string& key, int64_t lo, int64_t hi) const;
  double get_float(const std::string& key) const;
  double get_float(const std::string& key, double def) const;
  bool get_bool(const std::string& key) const;
  bool get_bool(const std::string& key, bool def) const;
  std::vector<int64_t> get_int_array(const std::string& key) const;
  std::vector<float> get_float_array(const std::string& key) const;
  const std::vector<std::string>& get_string_array(const std::string& key) const;
  std::string architecture() const { return get_string("general.architecture", ""); }

  // Every tensor, including those of types edgevl cannot compute with.
  const std::vector<GgufTensorInfo>& tensor_infos() const { return infos_; }

  // Human-readable dump (like llama.cpp's gguf_dump): header, every key with a short value,
  // then up to max_tensors tensors with type, PyTorch-order shape and offset.
  std::string summary(size_t max_tensors = 64) const;

  // TensorSource. find() returns null for a missing name and throws kUnsupported (naming the
  // tensor and its ggml type) for a tensor of an unsupported type such as q4_k.
  const TensorRef* find(const std::string& name) const override;
  std::vector<std::string> names() const override;
  std::string description() const override { return file_.path(); }

 private:
  MappedFile file_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  size_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::map<std::string, size_t> kv_index_;
  std::vector<GgufTensorInfo> infos_;
  std::map<std::string, size_t> info_index_;
  std::map<std::string, TensorRef> tensors_;  // supported tensors only
};

// Streaming writer. Usage:
//   GgufWriter w(path);
//   w.set("general.architecture", GgufValue::string("qwen2vl"));  ...
//   w.add_tensor("blk.0.attn_q.weight", DType::Q8_0, {N, K});      ... (PyTorch-order shape)
//   w.write_tensor_data("blk.0.attn_q.weight", bytes, nbytes);    ... (same order as added)
//   w.finish();
// Metadata and tensor infos must all be given before the first write_tensor_data (which
// writes the header). Nothing appears at `path` until finish() succeeds; a writer destroyed
// before finish() removes its temp file.
class GgufWriter {
 public:
  explicit GgufWriter(std::string path, uint32_t alignment = kGgufDefaultAlignment);
  ~GgufWriter();
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  void set(const std::string& key, GgufValue v);  // replaces an earlier value of the same key
  void add_tensor(const std::string& name, DType type, const std::vector<int64_t>& shape);
  void write_tensor_data(const std::string& name, const void* data, size_t nbytes);
  void finish();

 private:
  void write_header();
  void put(const void* p, size_t n);
  void put_string(const std::string& s);
  void put_value(const GgufValue& v);
  void pad_to_alignment();

  struct Pending {
    std::string name;
    DType type;
    std::vector<int64_t> shape;
    size_t nbytes;
    uint64_t offset;
  };
  std::string path_, tmp_;
  uint32_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<Pending> tensors_;
  std::map<std::string, size_t> tensor_index_;
  std::FILE* f_ = nullptr;
  uint64_t pos_ = 0;          // bytes written so far
  uint64_t data_start_ = 0;   // file offset of the data section
  size_t next_tensor_ = 0;    // index of the next tensor whose data is expected
  bool header_written_ = false, finished_ = false;
};

}  // namespace edgevl

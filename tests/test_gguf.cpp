// GGUF reader/writer: a round trip of every metadata type and tensor dtype, and one test
// per kind of hostile input (each must be an edgevl::Error naming the file, never a crash).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "formats/gguf.h"
#include "kernels/quant.h"
#include "test_util.h"

using namespace edgevl;

namespace {

std::string tmp_path(const std::string& name) { return edgevl_test::temp_dir() + "/" + name; }

void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Hand-assembles GGUF headers, to make files the writer would refuse to produce.
struct Buf {
  std::vector<uint8_t> b;
  template <typename T>
  Buf& put(T v) {
    const uint8_t* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
    return *this;
  }
  Buf& str(const std::string& s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Buf& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return put<uint32_t>(kGgufMagic).put<uint32_t>(version).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
  }
  Buf& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).put<uint32_t>(static_cast<uint32_t>(ne.size()));
    for (auto n : ne) put<uint64_t>(n);
    return put<uint32_t>(type).put<uint64_t>(offset);
  }
  Buf& pad(size_t align = 32) {
    while (b.size() % align) b.push_back(0);
    return *this;
  }
  Buf& zeros(size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
};

// Expects opening `bytes` as a GGUF file to throw an Error of `code` whose message names
// the file and contains `needle`.
void expect_open_error(const std::vector<uint8_t>& bytes, ErrorCode code, const std::string& needle, const char* name) {
  const std::string path = tmp_path(std::string("bad_") + name + ".gguf");
  write_bytes(path, bytes);
  try {
    GgufFile f(path);
    ADD_FAILURE() << name << ": opened without error";
  } catch (const Error& e) {
    EXPECT_EQ(static_cast<int>(e.code()), static_cast<int>(code)) << name << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << name << ": message does not name the file: " << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << name << ": message lacks '" << needle << "': " << e.what();
  }
}

std::vector<uint8_t> bytes_of_type(DType t, int64_t numel, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0, 1);
  std::vector<float> f(static_cast<size_t>(numel));
  for (auto& x : f) x = d(g);
  std::vector<uint8_t> out(dtype_row_bytes(t, numel));
  switch (t) {
    case DType::F32: std::memcpy(out.data(), f.data(), out.size()); break;
    case DType::F16:
      for (int64_t i = 0; i < numel; ++i) {
        uint16_t h = f32_to_f16(f[i]);
        std::memcpy(out.data() + 2 * i, &h, 2);
      }
      break;
    case DType::BF16:
      for (int64_t i = 0; i < numel; ++i) {
        uint16_t h = f32_to_bf16(f[i]);
        std::memcpy(out.data() + 2 * i, &h, 2);
      }
      break;
    case DType::Q8_0: quantize_q8_0(f.data(), out.data(), numel); break;
    case DType::Q4_0: quantize_q4_0(f.data(), out.data(), numel); break;
    default:
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(g());
  }
  return out;
}

// Every metadata value type, including arrays of each, for the round trip.
std::vector<std::pair<std::string, GgufValue>> all_metadata() {
  return {
      {"general.architecture", GgufValue::string("qwen2vl")},
      {"t.u8", GgufValue::u8(250)},
      {"t.i8", GgufValue::i8(-100)},
      {"t.u16", GgufValue::u16(65000)},
      {"t.i16", GgufValue::i16(-32000)},
      {"t.u32", GgufValue::u32(4000000000u)},
      {"t.i32", GgufValue::i32(-2000000000)},
      {"t.u64", GgufValue::u64(18000000000000000000ull)},
      {"t.i64", GgufValue::i64(-9000000000000000000ll)},
      {"t.f32", GgufValue::f32(0.48145466f)},
      {"t.f64", GgufValue::f64(1e-300)},
      {"t.bool", GgufValue::boolean(true)},
      {"t.string", GgufValue::string(std::string("h\xc3\xa9llo\0world", 12))},
      {"t.empty_string", GgufValue::string("")},
      {"t.arr_u8", GgufValue::array(std::vector<uint8_t>{1, 2, 255})},
      {"t.arr_i8", GgufValue::array(std::vector<int8_t>{-1, 2, -128})},
      {"t.arr_u16", GgufValue::array(std::vector<uint16_t>{1, 65535})},
      {"t.arr_i16", GgufValue::array(std::vector<int16_t>{-1, 32767})},
      {"t.arr_u32", GgufValue::array(std::vector<uint32_t>{7, 4000000000u})},
      {"t.arr_i32", GgufValue::array(std::vector<int32_t>{16, 24, 24, 0})},
      {"t.arr_u64", GgufValue::array(std::vector<uint64_t>{1, 2, 3})},
      {"t.arr_i64", GgufValue::array(std::vector<int64_t>{-5, 5})},
      {"t.arr_f32", GgufValue::array(std::vector<float>{0.48145466f, 0.4578275f, 0.40821073f})},
      {"t.arr_f64", GgufValue::array(std::vector<double>{0.5, -0.25})},
      {"t.arr_bool", GgufValue::numeric_array(GgufType::BOOL, "\x01\x00\x01", 3)},
      {"t.arr_str", GgufValue::string_array({"a", "", "\xe4\xbd\xa0\xe5\xa5\xbd", "Ġthe"})},
      {"t.arr_empty", GgufValue::array(std::vector<int32_t>{})},
  };
}

struct TensorSpec {
  std::string name;
  DType type;
  std::vector<int64_t> shape;
};

std::vector<TensorSpec> all_tensors() {
  return {
      {"f32.vec", DType::F32, {7}},
      {"f16.mat", DType::F16, {3, 5}},
      {"bf16.mat", DType::BF16, {2, 3, 5}},
      {"q8_0.mat", DType::Q8_0, {3, 64}},
      {"q4_0.mat", DType::Q4_0, {5, 96}},
      {"f16.conv", DType::F16, {4, 3, 14, 14}},
      {"i32.ids", DType::I32, {9}},
      {"q8_0.last", DType::Q8_0, {16, 32}},  // 16*34 = 544 = 17*32 bytes: no padding after the last tensor
  };
}

std::string write_reference_file(const std::string& name, uint32_t alignment, std::vector<std::vector<uint8_t>>* data_out = nullptr) {
  const std::string path = tmp_path(name);
  GgufWriter w(path, alignment);
  for (auto& kv : all_metadata()) w.set(kv.first, kv.second);
  auto specs = all_tensors();
  std::vector<std::vector<uint8_t>> data;
  for (size_t i = 0; i < specs.size(); ++i) {
    w.add_tensor(specs[i].name, specs[i].type, specs[i].shape);
    int64_t n = 1;
    for (auto d : specs[i].shape) n *= d;
    data.push_back(bytes_of_type(specs[i].type, n, 100 + static_cast<uint32_t>(i)));
  }
  for (size_t i = 0; i < specs.size(); ++i) w.write_tensor_data(specs[i].name, data[i].data(), data[i].size());
  w.finish();
  if (data_out) *data_out = data;
  return path;
}

}  // namespace

TEST(Gguf, RoundTripEveryMetadataTypeAndDtype) {
  for (uint32_t alignment : {32u, 64u, 4096u}) {
    std::vector<std::vector<uint8_t>> data;
    const std::string path = write_reference_file("roundtrip_" + std::to_string(alignment) + ".gguf", alignment, &data);
    GgufFile f(path);
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.alignment(), alignment);
    EXPECT_EQ(f.architecture(), "qwen2vl");
    // Every key comes back with the same type and value, in the same order.
    auto md = all_metadata();
    size_t extra = alignment != 32 ? 1 : 0;  // general.alignment written first
    ASSERT_EQ(f.metadata().size(), md.size() + extra);
    for (size_t i = 0; i < md.size(); ++i) {
      EXPECT_EQ(f.metadata()[i + extra].first, md[i].first);
      EXPECT_TRUE(f.metadata()[i + extra].second == md[i].second) << md[i].first << ": " << f.metadata()[i + extra].second.describe();
    }
    EXPECT_EQ(f.get_int("t.u8"), 250);
    EXPECT_EQ(f.get_int("t.i8"), -100);
    EXPECT_EQ(f.get_int("t.u32"), 4000000000ll);
    EXPECT_EQ(f.get_int("t.i64"), -9000000000000000000ll);
    EXPECT_FLOAT_EQ(static_cast<float>(f.get_float("t.f32")), 0.48145466f);
    EXPECT_EQ(f.get_float("t.f64"), 1e-300);
    EXPECT_TRUE(f.get_bool("t.bool"));
    EXPECT_EQ(f.get_string("t.string"), std::string("h\xc3\xa9llo\0world", 12));
    EXPECT_EQ(f.get_int_array("t.arr_i32"), (std::vector<int64_t>{16, 24, 24, 0}));
    EXPECT_EQ(f.get_int_array("t.arr_u32"), (std::vector<int64_t>{7, 4000000000ll}));
    EXPECT_EQ(f.get_int_array("t.arr_bool"), (std::vector<int64_t>{1, 0, 1}));
    EXPECT_EQ(f.get_float_array("t.arr_f32"), (std::vector<float>{0.48145466f, 0.4578275f, 0.40821073f}));
    EXPECT_EQ(f.get_float_array("t.arr_f64"), (std::vector<float>{0.5f, -0.25f}));
    EXPECT_EQ(f.get_string_array("t.arr_str")[3], "Ġthe");
    EXPECT_TRUE(f.get_int_array("t.arr_empty").empty());
    EXPECT_EQ(f.get_int("missing", 42), 42);
    EXPECT_EQ(f.get_string("missing", "d"), "d");

    auto specs = all_tensors();
    ASSERT_EQ(f.names().size(), specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
      const TensorRef& t = f.get(specs[i].name, specs[i].shape);
      EXPECT_EQ(t.dtype, specs[i].type) << specs[i].name;
      ASSERT_EQ(t.nbytes, data[i].size()) << specs[i].name;
      EXPECT_EQ(0, std::memcmp(t.data, data[i].data(), t.nbytes)) << specs[i].name;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % alignment, 0u) << specs[i].name;
      EXPECT_EQ(f.tensor_infos()[i].offset % alignment, 0u);
      // ne is stored innermost-first: the reverse of the PyTorch shape.
      std::vector<int64_t> rev(specs[i].shape.rbegin(), specs[i].shape.rend());
      EXPECT_EQ(f.tensor_infos()[i].ne, rev);
    }
    EXPECT_EQ(f.data_offset() % alignment, 0u);
    const std::string sum = f.summary(3);
    EXPECT_NE(sum.find("general.architecture = string \"qwen2vl\""), std::string::npos) << sum;
    EXPECT_NE(sum.find("f16.mat f16 [3, 5]"), std::string::npos) << sum;
    EXPECT_NE(sum.find("5 more tensors"), std::string::npos) << sum;
  }
}

TEST(Gguf, WriterIsAtomicAndChecksOrder) {
  const std::string path = tmp_path("unfinished.gguf");
  ::unlink(path.c_str());
  {
    GgufWriter w(path);
    w.add_tensor("a", DType::F32, {4});
    w.add_tensor("b", DType::F32, {4});
    float x[4] = {1, 2, 3, 4};
    EXPECT_THROW(w.write_tensor_data("b", x, sizeof x), Error);  // out of order
    EXPECT_THROW(w.write_tensor_data("a", x, 8), Error);          // wrong size
    w.write_tensor_data("a", x, sizeof x);
    EXPECT_THROW(w.set("late", GgufValue::u32(1)), Error);
    EXPECT_THROW(w.finish(), Error);  // "b" never written
  }
  EXPECT_FALSE(edgevl_test::path_exists(path)) << "an unfinished writer must leave nothing at the destination";
  GgufWriter w2(path);
  EXPECT_THROW(w2.add_tensor("q", DType::Q8_0, {2, 33}), Error);  // row not a multiple of 32
  EXPECT_THROW(w2.add_tensor("big", DType::F32, {1, 1, 1, 1, 1}), Error);
}

TEST(Gguf, TypedGettersNameKeyAndTypes) {
  GgufFile f(write_reference_file("getters.gguf", 32));
  try {
    f.get_int("t.string");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("t.string"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("string"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(f.path()), std::string::npos) << e.what();
  }
  EXPECT_THROW(f.get_string("nope"), Error);
  EXPECT_THROW(f.get_int("t.u64"), Error);  // 1.8e19 does not fit int64
  EXPECT_THROW(f.get_float_array("t.arr_str"), Error);
  EXPECT_THROW(f.get_bool("t.u8"), Error);
  EXPECT_THROW(f.get_int_in("t.u8", 0, 10), Error);
  EXPECT_EQ(f.get_int_in("t.u8", 0, 255), 250);
}

TEST(Gguf, EveryTruncationIsAnError) {
  const std::string path = write_reference_file("trunc_src.gguf", 32);
  const auto full = read_bytes(path);
  GgufFile ok(path);
  const auto& last = ok.tensor_infos().back();
  const size_t end = ok.data_offset() + last.offset + last.nbytes;
  ASSERT_EQ(end, full.size());
  const std::string cut = tmp_path("trunc.gguf");
  for (size_t n = 0; n < full.size(); n += (n < 256 ? 1 : n < ok.data_offset() + 64 ? 7 : 97)) {
    write_bytes(cut, std::vector<uint8_t>(full.begin(), full.begin() + static_cast<long>(n)));
    EXPECT_THROW(GgufFile f(cut), Error) << "cut at " << n;
  }
}

TEST(Gguf, RandomCorruptionNeverCrashes) {
  const std::string path = write_reference_file("fuzz_src.gguf", 32);
  const auto full = read_bytes(path);
  GgufFile ok(path);
  const size_t header = ok.data_offset();
  std::mt19937 g(7);
  const std::string bad = tmp_path("fuzz.gguf");
  int opened = 0;
  for (int it = 0; it < 400; ++it) {
    auto b = full;
    int flips = 1 + static_cast<int>(g() % 4);
    for (int k = 0; k < flips; ++k) b[g() % header] = static_cast<uint8_t>(g());
    write_bytes(bad, b);
    try {
      GgufFile f(bad);
      ++opened;
      for (const auto& n : f.names()) {
        try {
          const TensorRef* t = f.find(n);
          if (t && t->nbytes) {
            volatile uint8_t x = t->data[t->nbytes - 1];  // in range of the mapping
            (void)x;
          }
        } catch (const Error&) {
        }
      }
    } catch (const Error&) {
    }
  }
  SUCCEED() << opened << " corrupted files still opened";
}

TEST(Gguf, BadMagicAndVersion) {
  Buf b;
  b.put<uint32_t>(0x46554748).put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(0);
  expect_open_error(b.b, ErrorCode::kFormat, "magic", "magic");
  expect_open_error(Buf().header(0, 0, 4).b, ErrorCode::kUnsupported, "version 4", "version4");
  expect_open_error(Buf().header(0, 0, 1).b, ErrorCode::kUnsupported, "version 1", "version1");
  expect_open_error(Buf().header(0, 0, 0x03000000).b, ErrorCode::kUnsupported, "version", "bigendian");
  expect_open_error({'G', 'G'}, ErrorCode::kFormat, "too small", "tiny");
  // Version 2 reads like version 3.
  const std::string v2 = tmp_path("v2.gguf");
  write_bytes(v2, Buf().header(0, 1, 2).str("general.architecture").put<uint32_t>(8).str("clip").b);
  GgufFile f(v2);
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.architecture(), "clip");
}

TEST(Gguf, AbsurdCountsAndLengths) {
  expect_open_error(Buf().header(0, uint64_t(1) << 60).b, ErrorCode::kFormat, "metadata entries", "n_kv");
  expect_open_error(Buf().header(uint64_t(1) << 60, 0).b, ErrorCode::kFormat, "tensors", "n_tensors");
  // A key claiming an exabyte-long string.
  expect_open_error(Buf().header(0, 1).put<uint64_t>(uint64_t(1) << 60).zeros(16).b, ErrorCode::kFormat, "string", "keylen");
  // A string value claiming more than the file.
  expect_open_error(Buf().header(0, 1).str("k").put<uint32_t>(8).put<uint64_t>(1000).str("abc").b, ErrorCode::kFormat, "'k'", "strlen");
  // Arrays claiming 2^61 elements.
  expect_open_error(Buf().header(0, 1).str("arr").put<uint32_t>(9).put<uint32_t>(5).put<uint64_t>(uint64_t(1) << 61).b, ErrorCode::kFormat,
                    "'arr'", "arrcount");
  expect_open_error(Buf().header(0, 1).str("arr").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(uint64_t(1) << 61).b, ErrorCode::kFormat,
                    "'arr'", "strarrcount");
  expect_open_error(Buf().header(0, 1).str("k").put<uint32_t>(13).put<uint32_t>(0).b, ErrorCode::kFormat, "unknown value type", "valtype");
  expect_open_error(Buf().header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(77).put<uint64_t>(1).put<uint32_t>(0).b,
                    ErrorCode::kFormat, "unknown value type", "arrtype");
  expect_open_error(Buf().header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(1).zeros(16).b, ErrorCode::kUnsupported,
                    "array of arrays", "nested");
  expect_open_error(Buf().header(0, 1).str("k").put<uint32_t>(7).put<uint8_t>(2).b, ErrorCode::kFormat, "bool", "bool");
  expect_open_error(Buf().header(0, 2).str("k").put<uint32_t>(4).put<uint32_t>(1).str("k").put<uint32_t>(4).put<uint32_t>(2).b,
                    ErrorCode::kFormat, "duplicate", "dupkey");
  expect_open_error(Buf().header(0, 1).str("general.alignment").put<uint32_t>(4).put<uint32_t>(48).b, ErrorCode::kFormat, "power of two",
                    "align48");
  expect_open_error(Buf().header(0, 1).str("general.alignment").put<uint32_t>(10).put<uint64_t>(32).b, ErrorCode::kFormat, "expected u32",
                    "aligntype");
  // A tensor dimension of 2^60 elements.
  expect_open_error(Buf().header(1, 0).tensor("t", {uint64_t(1) << 60}, 0, 0).pad().zeros(64).b, ErrorCode::kFormat, "'t'", "bigdim");
}

TEST(Gguf, TensorDataOutOfRangeMisalignedOrOverlapping) {
  // 4 f32 at offset 0 but only 8 bytes of data.
  expect_open_error(Buf().header(1, 0).tensor("w", {4}, 0, 0).pad().zeros(8).b, ErrorCode::kFormat, "out of range", "short");
  expect_open_error(Buf().header(1, 0).tensor("w", {4}, 0, uint64_t(1) << 62).pad().zeros(16).b, ErrorCode::kFormat, "out of range", "far");
  expect_open_error(Buf().header(1, 0).tensor("w", {4}, 0, 16).pad().zeros(64).b, ErrorCode::kFormat, "alignment", "misaligned");
  expect_open_error(Buf().header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {16}, 0, 32).pad().zeros(128).b, ErrorCode::kFormat, "overlap",
                    "overlap");
  expect_open_error(Buf().header(2, 0).tensor("a", {4}, 0, 0).tensor("a", {4}, 0, 32).pad().zeros(64).b, ErrorCode::kFormat, "twice",
                    "duptensor");
  // Header ends, but the data section is missing entirely.
  expect_open_error(Buf().header(1, 0).tensor("w", {4}, 0, 0).b, ErrorCode::kFormat, "truncated", "nodata");
}

TEST(Gguf, UnknownTypesAndInconsistentShapes) {
  expect_open_error(Buf().header(1, 0).tensor("w", {32}, 99, 0).pad().zeros(64).b, ErrorCode::kFormat, "unknown ggml type 99", "type99");
  expect_open_error(Buf().header(1, 0).tensor("w", {32}, 4, 0).pad().zeros(64).b, ErrorCode::kFormat, "unknown ggml type 4", "type4");
  expect_open_error(Buf().header(1, 0).tensor("w", {33, 2}, ggml_type::Q8_0, 0).pad().zeros(128).b, ErrorCode::kFormat, "block size",
                    "q8rows");
  expect_open_error(Buf().header(1, 0).tensor("w", {1, 1, 1, 1, 1}, 0, 0).pad().zeros(64).b, ErrorCode::kFormat, "5 dimensions", "ndims5");
  expect_open_error(Buf().header(1, 0).tensor("w", {}, 0, 0).pad().zeros(64).b, ErrorCode::kFormat, "0 dimensions", "ndims0");

  // A known type edgevl has no kernels for: the file opens (metadata is readable), and asking
  // for the tensor names it and its type.
  const std::string path = tmp_path("iq4xs.gguf");
  write_bytes(path, Buf().header(2, 0).tensor("blk.0.ffn_down.weight", {256, 2}, 23, 0).tensor("ok", {8}, 0, 288).pad().zeros(320).b);
  GgufFile f(path);
  EXPECT_EQ(f.names().size(), 2u);
  EXPECT_NE(f.find("ok"), nullptr);
  EXPECT_EQ(f.find("absent"), nullptr);
  try {
    f.find("blk.0.ffn_down.weight");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("blk.0.ffn_down.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("iq4_xs"), std::string::npos) << e.what();
  }
}

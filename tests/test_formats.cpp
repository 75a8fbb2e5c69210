// safetensors and config.json readers, on the fixtures and on hostile files.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "core/error.h"
#include "core/mmap_file.h"
#include "formats/model_config.h"
#include "formats/safetensors.h"
#include "test_util.h"

using namespace edgevl;
using edgevl_test::fixture;

namespace {

std::string write_tmp(const std::string& name, const std::string& bytes) {
  std::string p = edgevl_test::temp_dir() + "/" + name;
  write_file_atomic(p, bytes.data(), bytes.size());
  return p;
}

std::string st_file(const std::string& header, size_t data_bytes) {
  std::string s(8, '\0');
  uint64_t n = header.size();
  std::memcpy(&s[0], &n, 8);
  return s + header + std::string(data_bytes, '\x01');
}

template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Safetensors, LoadsTinyQwen2VL) {
  REQUIRE_FIXTURES();
  SafetensorsModel m(fixture("tiny-qwen2-vl"));
  const TensorRef& e = m.get("model.embed_tokens.weight", {151936, 64});
  EXPECT_EQ(e.dtype, DType::BF16);
  EXPECT_TRUE(m.has("visual.patch_embed.proj.weight"));
  EXPECT_FALSE(m.has("lm_head.weight"));
  auto norm = tensor_to_f32(m.get("model.norm.weight", {64}));
  EXPECT_EQ(norm.size(), 64u);
}

TEST(Safetensors, RejectsHostileFiles) {
  EXPECT_NE(error_of([&] { SafetensorsFile f(write_tmp("short.safetensors", "abc")); }).find("short.safetensors"), std::string::npos);
  // Header length far past the end of the file.
  std::string huge(8, '\0');
  uint64_t n = 1ull << 40;
  std::memcpy(&huge[0], &n, 8);
  EXPECT_NE(error_of([&] { SafetensorsFile f(write_tmp("huge.safetensors", huge + "{}")); }).find("header length"), std::string::npos);
  // Wrong magic: not JSON.
  EXPECT_NE(error_of([&] { SafetensorsFile f(write_tmp("magic.safetensors", st_file("GGUF....", 4))); }).find("not a safetensors"), std::string::npos);
  // Offsets past the data section (truncated file).
  EXPECT_NE(error_of([&] {
              SafetensorsFile f(write_tmp("trunc.safetensors", st_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8)));
            }).find("out of range"),
            std::string::npos);
  // Shape and byte count disagree.
  EXPECT_NE(error_of([&] {
              SafetensorsFile f(write_tmp("shape.safetensors", st_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", 16)));
            }).find("do not match"),
            std::string::npos);
  // Unknown dtype.
  EXPECT_NE(error_of([&] {
              SafetensorsFile f(write_tmp("dtype.safetensors", st_file(R"({"a":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}})", 4)));
            }).find("F8_E4M3"),
            std::string::npos);
  // A valid file still loads, and a missing tensor is named.
  std::string ok = write_tmp("ok.safetensors", st_file(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})", 16));
  SafetensorsFile f(ok);
  EXPECT_EQ(f.tensors().at("a").shape, (std::vector<int64_t>{2, 2}));
}

TEST(Safetensors, TruncatedFixtureCopyIsRejected) {
  REQUIRE_FIXTURES();
  MappedFile src(fixture("tiny-qwen2-vl/model.safetensors"));
  std::string dir = edgevl_test::temp_dir() + "/trunc_model";
  ::mkdir(dir.c_str(), 0755);
  write_file_atomic(dir + "/model.safetensors", src.data(), src.size() / 2);
  std::string msg = error_of([&] { SafetensorsModel m(dir); });
  EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;
}

TEST(Safetensors, MissingTensorAndWrongShapeNamed) {
  REQUIRE_FIXTURES();
  SafetensorsModel m(fixture("tiny-qwen2-vl"));
  EXPECT_NE(error_of([&] { m.get("model.layers.9.mlp.up_proj.weight"); }).find("missing tensor 'model.layers.9.mlp.up_proj.weight'"), std::string::npos);
  EXPECT_NE(error_of([&] { m.get("model.norm.weight", {32}); }).find("expected [32]"), std::string::npos);
}

TEST(ModelConfig, ParsesBothFixtures) {
  REQUIRE_FIXTURES();
  ModelConfig a = ModelConfig::load(fixture("tiny-qwen2-vl"));
  EXPECT_EQ(a.vision.arch, VisionArch::Qwen2VL);
  EXPECT_EQ(a.text.hidden_size, 64);
  EXPECT_EQ(a.text.head_dim, 16);
  EXPECT_EQ(a.text.num_kv_heads, 2);
  EXPECT_EQ(a.text.mrope_section, (std::array<int, 3>{2, 3, 3}));
  EXPECT_TRUE(a.text.tie_word_embeddings);
  EXPECT_EQ(a.vision.embed_dim, 32);
  EXPECT_EQ(a.vision.mlp_hidden, 128);
  EXPECT_EQ(a.eos_token_ids, (std::vector<int32_t>{151645, 151643}));
  ModelConfig b = ModelConfig::load(fixture("tiny-qwen2.5-vl"));
  EXPECT_EQ(b.vision.arch, VisionArch::Qwen25VL);
  EXPECT_EQ(b.vision.depth, 4);
  EXPECT_EQ(b.vision.embed_dim, 32);
  EXPECT_EQ(b.vision.mlp_hidden, 64);
  EXPECT_EQ(b.vision.window_size, 112);
  EXPECT_EQ(b.vision.fullatt_block_indexes, (std::vector<int>{1, 3}));
}

TEST(ModelConfig, RejectsUnknownArchitectureAndBadFields) {
  std::string msg = error_of([] { ModelConfig::parse(R"({"architectures":["LlamaForCausalLM"],"model_type":"llama"})", "x/config.json"); });
  EXPECT_NE(msg.find("unsupported architecture 'LlamaForCausalLM'"), std::string::npos) << msg;
  msg = error_of([] { ModelConfig::parse("{not json", "x/config.json"); });
  EXPECT_NE(msg.find("x/config.json: invalid JSON"), std::string::npos) << msg;
  msg = error_of([] { ModelConfig::parse(R"({"architectures":["Qwen2VLForConditionalGeneration"],"hidden_size":"big"})", "c.json"); });
  EXPECT_NE(msg.find("'hidden_size' must be an integer"), std::string::npos) << msg;
}

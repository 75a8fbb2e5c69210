// HF <-> GGUF naming, the HF -> GGUF converter and GgufModelSource: the tiny fixture
// checkpoints converted to a text + mmproj pair must serve every HF tensor bit-exactly
// (rebuilding the split qkv and Conv3d patch kernel) and the same hyper-parameters.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>

#include "core/error.h"
#include "core/fp16.h"
#include "formats/gguf.h"
#include "formats/gguf_convert.h"
#include "formats/gguf_names.h"
#include "formats/model_config.h"
#include "formats/safetensors.h"
#include "kernels/matmul.h"
#include "test_util.h"

using namespace edgevl;

TEST(GgufNames, TextAndVisionMappingsRoundTrip) {
  const std::vector<std::pair<std::string, std::string>> text = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
      {"model.layers.0.input_layernorm.weight", "blk.0.attn_norm.weight"},
      {"model.layers.12.self_attn.q_proj.weight", "blk.12.attn_q.weight"},
      {"model.layers.12.self_attn.q_proj.bias", "blk.12.attn_q.bias"},
      {"model.layers.3.self_attn.k_proj.bias", "blk.3.attn_k.bias"},
      {"model.layers.3.self_attn.v_proj.weight", "blk.3.attn_v.weight"},
      {"model.layers.27.self_attn.o_proj.weight", "blk.27.attn_output.weight"},
      {"model.layers.1.post_attention_layernorm.weight", "blk.1.ffn_norm.weight"},
      {"model.layers.1.mlp.gate_proj.weight", "blk.1.ffn_gate.weight"},
      {"model.layers.1.mlp.up_proj.weight", "blk.1.ffn_up.weight"},
      {"model.layers.1.mlp.down_proj.weight", "blk.1.ffn_down.weight"},
  };
  for (const auto& [hf, g] : text) {
    EXPECT_EQ(gguf_text_name(hf), g) << hf;
    EXPECT_EQ(hf_text_name(g), hf) << g;
  }
  EXPECT_EQ(gguf_text_name("model.language_model.layers.5.mlp.up_proj.weight"), "blk.5.ffn_up.weight");
  EXPECT_EQ(gguf_text_name("model.layers.x.mlp.up_proj.weight"), "");
  EXPECT_EQ(gguf_text_name("model.layers.1.mlp.up_proj.scales"), "");
  EXPECT_EQ(gguf_text_name("visual.blocks.0.norm1.weight"), "");

  const std::vector<std::pair<std::string, std::string>> common = {
      {"visual.blocks.0.norm1.weight", "v.blk.0.ln1.weight"},
      {"visual.blocks.0.norm1.bias", "v.blk.0.ln1.bias"},
      {"visual.blocks.31.norm2.weight", "v.blk.31.ln2.weight"},
      {"visual.blocks.4.attn.proj.weight", "v.blk.4.attn_out.weight"},
      {"visual.merger.ln_q.weight", "v.post_ln.weight"},
      {"visual.merger.mlp.0.weight", "mm.0.weight"},
      {"visual.merger.mlp.2.bias", "mm.2.bias"},
  };
  for (const auto& [hf, g] : common) {
    EXPECT_EQ(gguf_vision_name(hf), g) << hf;
    EXPECT_EQ(hf_vision_name(g, VisionArch::Qwen2VL), hf) << g;
    EXPECT_EQ(hf_vision_name(g, VisionArch::Qwen25VL), hf) << g;
  }
  EXPECT_EQ(gguf_vision_name("visual.blocks.2.mlp.fc1.weight"), "v.blk.2.ffn_up.weight");
  EXPECT_EQ(gguf_vision_name("visual.blocks.2.mlp.fc2.bias"), "v.blk.2.ffn_down.bias");
  EXPECT_EQ(gguf_vision_name("visual.blocks.2.mlp.up_proj.weight"), "v.blk.2.ffn_up.weight");
  EXPECT_EQ(gguf_vision_name("visual.blocks.2.mlp.gate_proj.weight"), "v.blk.2.ffn_gate.weight");
  EXPECT_EQ(hf_vision_name("v.blk.2.ffn_up.weight", VisionArch::Qwen2VL), "visual.blocks.2.mlp.fc1.weight");
  EXPECT_EQ(hf_vision_name("v.blk.2.ffn_up.weight", VisionArch::Qwen25VL), "visual.blocks.2.mlp.up_proj.weight");
  EXPECT_EQ(hf_vision_name("v.blk.2.ffn_down.weight", VisionArch::Qwen25VL), "visual.blocks.2.mlp.down_proj.weight");
  EXPECT_EQ(gguf_vision_name("model.visual.merger.mlp.0.weight"), "mm.0.weight");
  // The two special cases are not one-to-one names.
  EXPECT_EQ(gguf_vision_name("visual.patch_embed.proj.weight"), "");
  EXPECT_EQ(hf_vision_name("v.patch_embd.weight.1", VisionArch::Qwen2VL), "");
}

namespace {

void expect_same_tensors(const TensorSource& a, const TensorSource& b) {
  auto na = a.names(), nb = b.names();
  EXPECT_EQ(std::set<std::string>(na.begin(), na.end()), std::set<std::string>(nb.begin(), nb.end()));
  for (const auto& n : na) {
    const TensorRef& x = a.get(n);
    const TensorRef* y = b.find(n);
    ASSERT_NE(y, nullptr) << n;
    EXPECT_EQ(x.dtype, y->dtype) << n;
    EXPECT_EQ(x.shape, y->shape) << n;
    ASSERT_EQ(x.nbytes, y->nbytes) << n;
    EXPECT_EQ(0, std::memcmp(x.data, y->data, x.nbytes)) << n << " differs";
  }
}

void expect_same_config(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.architecture, b.architecture);
  EXPECT_EQ(a.model_type, b.model_type);
  EXPECT_EQ(a.text.hidden_size, b.text.hidden_size);
  EXPECT_EQ(a.text.num_layers, b.text.num_layers);
  EXPECT_EQ(a.text.num_heads, b.text.num_heads);
  EXPECT_EQ(a.text.num_kv_heads, b.text.num_kv_heads);
  EXPECT_EQ(a.text.head_dim, b.text.head_dim);
  EXPECT_EQ(a.text.intermediate_size, b.text.intermediate_size);
  EXPECT_EQ(a.text.vocab_size, b.text.vocab_size);
  EXPECT_FLOAT_EQ(a.text.rms_norm_eps, b.text.rms_norm_eps);
  EXPECT_FLOAT_EQ(a.text.rope_theta, b.text.rope_theta);
  EXPECT_EQ(a.text.mrope_section, b.text.mrope_section);
  EXPECT_EQ(a.text.tie_word_embeddings, b.text.tie_word_embeddings);
  EXPECT_EQ(a.text.max_position_embeddings, b.text.max_position_embeddings);
  EXPECT_EQ(a.vision.arch, b.vision.arch);
  EXPECT_EQ(a.vision.depth, b.vision.depth);
  EXPECT_EQ(a.vision.embed_dim, b.vision.embed_dim);
  EXPECT_EQ(a.vision.num_heads, b.vision.num_heads);
  EXPECT_EQ(a.vision.mlp_hidden, b.vision.mlp_hidden);
  EXPECT_EQ(a.vision.hidden_act, b.vision.hidden_act);
  EXPECT_EQ(a.vision.patch_size, b.vision.patch_size);
  EXPECT_EQ(a.vision.temporal_patch_size, b.vision.temporal_patch_size);
  EXPECT_EQ(a.vision.spatial_merge_size, b.vision.spatial_merge_size);
  EXPECT_EQ(a.vision.in_channels, b.vision.in_channels);
  EXPECT_EQ(a.vision.out_hidden_size, b.vision.out_hidden_size);
  EXPECT_EQ(a.vision.window_size, b.vision.window_size);
  EXPECT_EQ(a.vision.fullatt_block_indexes, b.vision.fullatt_block_indexes);
  EXPECT_EQ(a.image_token_id, b.image_token_id);
  EXPECT_EQ(a.video_token_id, b.video_token_id);
  EXPECT_EQ(a.vision_start_token_id, b.vision_start_token_id);
  EXPECT_EQ(a.vision_end_token_id, b.vision_end_token_id);
  EXPECT_EQ(a.bos_token_id, b.bos_token_id);
  EXPECT_EQ(std::set<int32_t>(a.eos_token_ids.begin(), a.eos_token_ids.end()), std::set<int32_t>(b.eos_token_ids.begin(), b.eos_token_ids.end()));
}

}  // namespace

class GgufFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufFixture, ConvertedPairServesEveryHfTensorBitExactly) {
  REQUIRE_FIXTURES();
  const std::string dir = edgevl_test::fixture(GetParam());
  const std::string text = edgevl_test::temp_dir() + "/" + GetParam() + ".keep.gguf";
  const std::string mmproj = edgevl_test::temp_dir() + "/" + GetParam() + ".keep.mmproj.gguf";
  GgufConvertOptions opt;
  opt.keep_source_types = true;
  convert_hf_to_gguf(dir, text, mmproj, opt);

  // The files themselves follow llama.cpp's names and keys.
  GgufFile tf(text), vf(mmproj);
  EXPECT_EQ(tf.architecture(), "qwen2vl");
  EXPECT_EQ(vf.architecture(), "clip");
  EXPECT_EQ(tf.get_int("general.file_type"), 32);  // MOSTLY_BF16, as the checkpoint; llama.cpp's
  EXPECT_EQ(vf.get_int("general.file_type"), 32);  // clip loader requires the key
  EXPECT_NE(tf.find("blk.0.attn_q.bias"), nullptr);
  EXPECT_EQ(tf.find("output.weight"), nullptr);  // tied embeddings
  EXPECT_EQ(tf.get_int_array("qwen2vl.rope.dimension_sections"), (std::vector<int64_t>{2, 3, 3, 0}));
  EXPECT_EQ(tf.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(tf.get_string_array("tokenizer.ggml.tokens").size(), 151936u);
  EXPECT_EQ(tf.get_string_array("tokenizer.ggml.tokens")[151655], "<|image_pad|>");
  EXPECT_EQ(tf.get_int_array("tokenizer.ggml.token_type")[151655], 3);
  EXPECT_EQ(tf.get_int("tokenizer.ggml.eos_token_id"), 151645);
  EXPECT_NE(tf.get_string("tokenizer.chat_template").find("<|im_start|>"), std::string::npos);
  EXPECT_NE(vf.find("v.patch_embd.weight"), nullptr);
  EXPECT_NE(vf.find("v.patch_embd.weight.1"), nullptr);
  EXPECT_NE(vf.find("v.blk.0.attn_k.weight"), nullptr);
  EXPECT_EQ(vf.find("v.blk.0.attn_qkv.weight"), nullptr);
  EXPECT_EQ(vf.get_float_array("clip.vision.image_mean").size(), 3u);

  SafetensorsModel st(dir);
  GgufModelSource gs(text, mmproj);
  expect_same_tensors(st, gs);
  expect_same_config(ModelConfig::load(dir), gs.config());
  EXPECT_FLOAT_EQ(gs.image_std()[2], 0.27577711f);
  std::remove(text.c_str());
  std::remove(mmproj.c_str());
}

TEST_P(GgufFixture, LegacyClipFfnNamesAreReadBack) {
  // Files from llama.cpp's early Qwen2-VL surgery script call fc1 "ffn_down": the reader
  // must recognise the layout by shape and serve the same HF tensors.
  REQUIRE_FIXTURES();
  const std::string dir = edgevl_test::fixture(GetParam());
  const std::string text = edgevl_test::temp_dir() + "/" + GetParam() + ".legacy.gguf";
  const std::string mmproj = edgevl_test::temp_dir() + "/" + GetParam() + ".legacy.mmproj.gguf";
  GgufConvertOptions opt;
  opt.keep_source_types = true;
  opt.legacy_clip_ffn_names = true;
  convert_hf_to_gguf(dir, text, mmproj, opt);
  const bool qwen2 = ModelConfig::load(dir).vision.arch == VisionArch::Qwen2VL;
  GgufFile vf(mmproj);
  const GgufTensorInfo* up = nullptr;
  for (const auto& ti : vf.tensor_infos())
    if (ti.name == "v.blk.0.ffn_up.weight") up = &ti;
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(up->ne[1] == 32, qwen2) << "Qwen2-VL: ffn_up holds fc2 [embed 32 out]; Qwen2.5-VL is unchanged";
  SafetensorsModel st(dir);
  GgufModelSource gs(text, mmproj);
  expect_same_tensors(st, gs);
  expect_same_config(ModelConfig::load(dir), gs.config());
  std::remove(text.c_str());
  std::remove(mmproj.c_str());
}

TEST_P(GgufFixture, QuantizedConversionKeepsValuesClose) {
  REQUIRE_FIXTURES();
  const std::string dir = edgevl_test::fixture(GetParam());
  const std::string text = edgevl_test::temp_dir() + "/" + GetParam() + ".q8.gguf";
  const std::string mmproj = edgevl_test::temp_dir() + "/" + GetParam() + ".f16.mmproj.gguf";
  for (DType t : {DType::Q8_0, DType::Q4_0}) {
    GgufConvertOptions opt;
    opt.text_type = t;
    opt.vision_type = DType::F16;
    if (t == DType::Q4_0) opt.embed_type = DType::Q8_0;  // per-part choice: 8-bit embedding / lm_head
    convert_hf_to_gguf(dir, text, mmproj, opt);
    SafetensorsModel st(dir);
    GgufModelSource gs(text, mmproj);
    for (const auto& n : st.names()) {
      const TensorRef& a = st.get(n);
      const TensorRef& b = gs.get(n, a.shape);
      if (a.shape.size() == 1) {
        EXPECT_EQ(b.dtype, DType::F32) << n;
        EXPECT_EQ(tensor_to_f32(a), tensor_to_f32(b)) << n;  // bf16 -> f32 is exact
        continue;
      } else if (n == "model.embed_tokens.weight") {
        EXPECT_EQ(b.dtype, opt.embed_type.value_or(t)) << n;
      } else if (n.rfind("model.", 0) == 0) {
        EXPECT_EQ(b.dtype, t) << n;
      } else {
        EXPECT_EQ(b.dtype, DType::F16) << n;
      }
      // Every row within its own quantization step.
      WeightMatrix wa = matrix_of(a), wb = matrix_of(b);
      std::vector<float> ra(wa.cols), rb(wb.cols);
      for (int64_t r = 0; r < std::min<int64_t>(wa.rows, 64); ++r) {
        dequantize_row(wa, r, ra.data());
        dequantize_row(wb, r, rb.data());
        float amax = 0;
        for (float v : ra) amax = std::max(amax, std::fabs(v));
        const float step = b.dtype == DType::Q4_0 ? amax / 7.0f : b.dtype == DType::Q8_0 ? amax / 127.0f : amax / 1024.0f;
        for (int64_t c = 0; c < wa.cols; ++c) ASSERT_LE(std::fabs(ra[c] - rb[c]), step + 1e-6f) << n << " row " << r << " col " << c;
      }
    }
  }
  std::remove(text.c_str());
  std::remove(mmproj.c_str());
}

INSTANTIATE_TEST_SUITE_P(Tiny, GgufFixture, ::testing::Values("tiny-qwen2-vl", "tiny-qwen2.5-vl"),
                         [](const auto& info) { return info.param == "tiny-qwen2-vl" ? std::string("Qwen2VL") : std::string("Qwen25VL"); });

namespace {

// A minimal valid qwen2vl text file and a clip file whose q/k/v are written by hand.
std::string write_min_text(const std::string& path) {
  ModelConfig c;
  c.text.hidden_size = 8;
  c.text.num_layers = 1;
  c.text.num_heads = 2;
  c.text.num_kv_heads = 1;
  c.text.head_dim = 4;
  c.text.intermediate_size = 16;
  c.text.mrope_section = {1, 0, 1};
  GgufWriter w(path);
  write_text_metadata(w, c, "min");
  std::vector<float> emb(10 * 8, 0.5f);
  w.add_tensor("token_embd.weight", DType::F32, {10, 8});
  w.write_tensor_data("token_embd.weight", emb.data(), emb.size() * 4);
  w.finish();
  return path;
}

}  // namespace

TEST(GgufModelSource, JoinsSplitQkvByCopyWhenNotAdjacentAndRefusesMixedTypes) {
  const std::string dir = edgevl_test::temp_dir();
  const std::string text = write_min_text(dir + "/min.gguf");
  ModelConfig c;
  c.vision.arch = VisionArch::Qwen2VL;
  c.vision.depth = 1;
  c.vision.embed_dim = 8;
  c.vision.num_heads = 2;
  c.vision.mlp_hidden = 32;
  c.vision.out_hidden_size = 8;
  const std::string mm = dir + "/min.mmproj.gguf";
  {
    GgufWriter w(mm);
    write_vision_metadata(w, c, "min", {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f});
    // Biases of 3 f32 (12 bytes) are padded to 32: not adjacent, so they are copied.
    float qb[3] = {1, 2, 3}, kb[3] = {4, 5, 6}, vb[3] = {7, 8, 9};
    std::vector<float> up(32 * 8, 0.25f);
    std::vector<uint16_t> vw_f16(3 * 8, f32_to_f16(1.0f));
    std::vector<float> qw(3 * 8, 1.0f);
    w.add_tensor("v.blk.0.attn_q.bias", DType::F32, {3});
    w.add_tensor("v.blk.0.attn_k.bias", DType::F32, {3});
    w.add_tensor("v.blk.0.attn_v.bias", DType::F32, {3});
    w.add_tensor("v.blk.0.attn_q.weight", DType::F32, {3, 8});
    w.add_tensor("v.blk.0.attn_k.weight", DType::F32, {3, 8});
    w.add_tensor("v.blk.0.attn_v.weight", DType::F16, {3, 8});
    w.add_tensor("v.blk.0.ffn_up.weight", DType::F32, {32, 8});
    w.write_tensor_data("v.blk.0.attn_q.bias", qb, 12);
    w.write_tensor_data("v.blk.0.attn_k.bias", kb, 12);
    w.write_tensor_data("v.blk.0.attn_v.bias", vb, 12);
    w.write_tensor_data("v.blk.0.attn_q.weight", qw.data(), 96);
    w.write_tensor_data("v.blk.0.attn_k.weight", qw.data(), 96);
    w.write_tensor_data("v.blk.0.attn_v.weight", vw_f16.data(), 48);
    w.write_tensor_data("v.blk.0.ffn_up.weight", up.data(), up.size() * 4);
    w.finish();
  }
  GgufModelSource gs(text, mm);
  const TensorRef& b = gs.get("visual.blocks.0.attn.qkv.bias", {9});
  std::vector<float> bv = tensor_to_f32(b);
  EXPECT_EQ(bv, (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  try {
    gs.find("visual.blocks.0.attn.qkv.weight");
    FAIL() << "mixed f32/f16 q/k/v must not be joined silently";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("visual.blocks.0.attn.qkv.weight"), std::string::npos) << e.what();
  }
  // The patch kernel has no halves here: absent, not invented.
  EXPECT_EQ(gs.find("visual.patch_embed.proj.weight"), nullptr);
  EXPECT_EQ(gs.config().vision.mlp_hidden, 32);
  EXPECT_TRUE(gs.config().text.tie_word_embeddings);
}

TEST(GgufModelSource, RejectsOtherArchitectures) {
  const std::string path = edgevl_test::temp_dir() + "/llama.gguf";
  {
    GgufWriter w(path);
    w.set("general.architecture", GgufValue::string("llama"));
    w.finish();
  }
  try {
    GgufModelSource gs(path, "");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("llama"), std::string::npos) << e.what();
  }
}

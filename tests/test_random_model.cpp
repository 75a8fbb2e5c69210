// Random-weight models (make-model): the presets have the real models' shapes (their total
// parameter counts equal the published checkpoints'), the written GGUF pair serves every HF
// tensor the decoder and vision tower bind, with the right shapes and types, the files have
// exactly the expected sizes, and the values are deterministic, small and finite.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "core/mmap_file.h"
#include "core/thread_pool.h"
#include "formats/gguf.h"
#include "formats/gguf_names.h"
#include "formats/random_model.h"
#include "llm/qwen2_decoder.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "vision/vision_encoder.h"
#include "test_util.h"

using namespace edgevl;

namespace {

uint64_t file_size(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return static_cast<uint64_t>(st.st_size);
}

// Bytes of a tensor's data, from first principles (GGML block layouts).
uint64_t expected_bytes(DType t, int64_t numel) {
  switch (t) {
    case DType::F32: return uint64_t(numel) * 4;
    case DType::F16:
    case DType::BF16: return uint64_t(numel) * 2;
    case DType::Q8_0: return uint64_t(numel) / 32 * 34;
    case DType::Q4_0: return uint64_t(numel) / 32 * 18;
    default: ADD_FAILURE() << "unexpected type"; return 0;
  }
}

uint64_t align32(uint64_t n) { return (n + 31) / 32 * 32; }

// Every tensor in the file has the size its type and shape need; the file is the header plus
// the tensors, each padded to the 32-byte alignment.
void expect_file_size(const std::string& path) {
  GgufFile f(path);
  uint64_t data = 0;
  for (const auto& ti : f.tensor_infos()) {
    int64_t numel = 1;
    for (int64_t d : ti.ne) numel *= d;
    DType t;
    ASSERT_TRUE(ggml_type_to_dtype(ti.ggml_type, &t)) << ti.name;
    EXPECT_EQ(ti.nbytes, expected_bytes(t, numel)) << ti.name;
    EXPECT_EQ(ti.offset, data) << ti.name;
    data += align32(expected_bytes(t, numel));
  }
  EXPECT_EQ(file_size(path), f.data_offset() + data) << path;
}

void expect_tensor(const TensorSource& s, const std::string& name, const std::vector<int64_t>& shape, DType type) {
  const TensorRef* t = s.find(name);
  ASSERT_NE(t, nullptr) << name;
  EXPECT_EQ(t->shape, shape) << name;
  EXPECT_EQ(t->dtype, type) << name;
}

}  // namespace

TEST(RandomModel, PresetsHaveThePublishedParameterCounts) {
  // Totals of the Hugging Face checkpoints (safetensors metadata of the Instruct models).
  const std::vector<std::pair<std::string, int64_t>> want = {
      {"qwen2-vl-2b", 2208985600LL}, {"qwen2.5-vl-3b", 3754622976LL}, {"qwen2.5-vl-7b", 8292166656LL}};
  for (const auto& [name, n] : want) {
    const RandomModelPlan p = plan_random_model(random_model_preset(name), DType::Q4_0, DType::F16);
    EXPECT_EQ(p.text_params() + p.vision_params(), n) << name;
  }
  const ModelConfig c2 = random_model_preset("qwen2-vl-2b");
  EXPECT_EQ(c2.text.hidden_size, 1536);
  EXPECT_EQ(c2.text.num_layers, 28);
  EXPECT_EQ(c2.text.num_heads, 12);
  EXPECT_EQ(c2.text.num_kv_heads, 2);
  EXPECT_EQ(c2.text.intermediate_size, 8960);
  EXPECT_EQ(c2.text.vocab_size, 151936);
  EXPECT_TRUE(c2.text.tie_word_embeddings);
  EXPECT_EQ(c2.text.mrope_section, (std::array<int, 3>{16, 24, 24}));
  EXPECT_EQ(c2.vision.depth, 32);
  EXPECT_EQ(c2.vision.embed_dim, 1280);
  EXPECT_EQ(c2.vision.mlp_hidden, 5120);
  EXPECT_EQ(c2.vision.out_hidden_size, 1536);
  const ModelConfig c7 = random_model_preset("qwen2.5-vl-7b");
  EXPECT_FALSE(c7.text.tie_word_embeddings);
  EXPECT_EQ(c7.text.vocab_size, 152064);
  EXPECT_EQ(c7.vision.fullatt_block_indexes, (std::vector<int>{7, 15, 23, 31}));
  EXPECT_EQ(c7.vision.window_size, 112);
  EXPECT_THROW(random_model_preset("qwen2-vl-72b"), Error);
}

TEST(RandomModel, ValuesAreDeterministicSmallAndIndependentOfRowOrder) {
  RandomTensor t;
  t.name = "blk.0.ffn_up.weight";
  t.type = DType::Q4_0;
  t.shape = {64, 4096};
  std::vector<float> a(4096), b(4096), c(4096);
  random_model_row(t, 7, 0.02f, 3, a.data());
  random_model_row(t, 7, 0.02f, 3, b.data());
  EXPECT_EQ(a, b);
  random_model_row(t, 8, 0.02f, 3, c.data());
  EXPECT_NE(a, c);
  random_model_row(t, 7, 0.02f, 4, c.data());
  EXPECT_NE(a, c);
  double s = 0, s2 = 0;
  for (float v : a) {
    s += v;
    s2 += double(v) * v;
    EXPECT_LE(std::fabs(v), 0.02f * 3.47f);
  }
  const double mean = s / a.size(), sd = std::sqrt(s2 / a.size() - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.002);
  EXPECT_NEAR(sd, 0.02, 0.001);
  t.name = "blk.0.attn_norm.weight";
  t.shape = {4096};
  t.init = RandomTensor::Init::Ones;
  random_model_row(t, 7, 0.02f, 0, a.data());
  for (float v : a) ASSERT_EQ(v, 1.0f);
}

// The 2B preset with one decoder layer and one vision block: every other shape is the real one.
TEST(RandomModel, Qwen2VL2BOneLayerServesEveryTensorWithTheRightShapes) {
  REQUIRE_FIXTURES();
  const std::string dir = edgevl_test::temp_dir();
  const std::string text = dir + "/rand2b.gguf", mmproj = dir + "/rand2b-mmproj.gguf";
  RandomModelOptions opt;
  opt.text_type = DType::Q4_0;
  opt.vision_type = DType::F16;
  opt.seed = 42;
  opt.text_layers = 1;
  opt.vision_layers = 1;
  opt.tokenizer_dir = edgevl_test::fixture("tiny-qwen2-vl");
  opt.n_threads = 2;
  const RandomModelResult r = write_random_model(random_model_preset("qwen2-vl-2b"), opt, text, mmproj);
  EXPECT_EQ(r.text_file_bytes, file_size(text));
  EXPECT_EQ(r.mmproj_file_bytes, file_size(mmproj));
  expect_file_size(text);
  expect_file_size(mmproj);

  // Text data: embedding + one layer at q4_0 (18 bytes per 32 weights) and f32 vectors.
  const int64_t H = 1536, I = 8960, V = 151936, KV = 256;
  const int64_t mats = V * H + H * H + 2 * KV * H + H * H + 3 * H * I;
  const int64_t vecs = H + 2 * KV + 2 * H + H;  // q/k/v biases, two norms, output norm
  {
    GgufFile f(text);
    uint64_t data = 0;
    for (const auto& ti : f.tensor_infos()) data += align32(ti.nbytes);
    EXPECT_EQ(data, uint64_t(mats / 32 * 18 + vecs * 4));
    EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens").size(), size_t(V));
    EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens")[151655], "<|image_pad|>");
    EXPECT_EQ(f.get_int("tokenizer.ggml.eos_token_id"), 151645);
    EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "gpt2");
    EXPECT_TRUE(f.has_key("tokenizer.chat_template"));
    EXPECT_TRUE(f.get_bool("edgevl.random_weights"));
  }

  GgufModelSource src(text, mmproj);
  const ModelConfig c = src.config();
  EXPECT_EQ(c.text.hidden_size, H);
  EXPECT_EQ(c.text.num_layers, 1);
  EXPECT_EQ(c.text.num_heads, 12);
  EXPECT_EQ(c.text.num_kv_heads, 2);
  EXPECT_EQ(c.text.head_dim, 128);
  EXPECT_EQ(c.text.intermediate_size, I);
  EXPECT_EQ(c.text.vocab_size, V);
  EXPECT_EQ(c.text.max_position_embeddings, 32768);
  EXPECT_TRUE(c.text.tie_word_embeddings);
  EXPECT_EQ(c.text.mrope_section, (std::array<int, 3>{16, 24, 24}));
  EXPECT_EQ(c.vision.arch, VisionArch::Qwen2VL);
  EXPECT_EQ(c.vision.depth, 1);
  EXPECT_EQ(c.vision.embed_dim, 1280);
  EXPECT_EQ(c.vision.num_heads, 16);
  EXPECT_EQ(c.vision.mlp_hidden, 5120);
  EXPECT_EQ(c.vision.out_hidden_size, H);
  EXPECT_EQ(c.image_token_id, 151655);

  // Every HF name the decoder and the vision tower bind, with shape and type.
  expect_tensor(src, "model.embed_tokens.weight", {V, H}, DType::Q4_0);
  expect_tensor(src, "model.norm.weight", {H}, DType::F32);
  EXPECT_EQ(src.find("lm_head.weight"), nullptr);
  const std::string l = "model.layers.0.";
  expect_tensor(src, l + "input_layernorm.weight", {H}, DType::F32);
  expect_tensor(src, l + "post_attention_layernorm.weight", {H}, DType::F32);
  expect_tensor(src, l + "self_attn.q_proj.weight", {H, H}, DType::Q4_0);
  expect_tensor(src, l + "self_attn.q_proj.bias", {H}, DType::F32);
  expect_tensor(src, l + "self_attn.k_proj.weight", {KV, H}, DType::Q4_0);
  expect_tensor(src, l + "self_attn.k_proj.bias", {KV}, DType::F32);
  expect_tensor(src, l + "self_attn.v_proj.weight", {KV, H}, DType::Q4_0);
  expect_tensor(src, l + "self_attn.v_proj.bias", {KV}, DType::F32);
  expect_tensor(src, l + "self_attn.o_proj.weight", {H, H}, DType::Q4_0);
  expect_tensor(src, l + "mlp.gate_proj.weight", {I, H}, DType::Q4_0);
  expect_tensor(src, l + "mlp.up_proj.weight", {I, H}, DType::Q4_0);
  expect_tensor(src, l + "mlp.down_proj.weight", {H, I}, DType::Q4_0);
  const int64_t d = 1280;
  expect_tensor(src, "visual.patch_embed.proj.weight", {d, 3, 2, 14, 14}, DType::F16);
  const std::string b = "visual.blocks.0.";
  for (const char* n : {"norm1", "norm2"}) {
    expect_tensor(src, b + n + ".weight", {d}, DType::F32);
    expect_tensor(src, b + n + ".bias", {d}, DType::F32);
  }
  expect_tensor(src, b + "attn.qkv.weight", {3 * d, d}, DType::F16);
  expect_tensor(src, b + "attn.qkv.bias", {3 * d}, DType::F32);
  expect_tensor(src, b + "attn.proj.weight", {d, d}, DType::F16);
  expect_tensor(src, b + "attn.proj.bias", {d}, DType::F32);
  expect_tensor(src, b + "mlp.fc1.weight", {5120, d}, DType::F16);
  expect_tensor(src, b + "mlp.fc1.bias", {5120}, DType::F32);
  expect_tensor(src, b + "mlp.fc2.weight", {d, 5120}, DType::F16);
  expect_tensor(src, b + "mlp.fc2.bias", {d}, DType::F32);
  expect_tensor(src, "visual.merger.ln_q.weight", {d}, DType::F32);
  expect_tensor(src, "visual.merger.ln_q.bias", {d}, DType::F32);
  expect_tensor(src, "visual.merger.mlp.0.weight", {4 * d, 4 * d}, DType::F16);
  expect_tensor(src, "visual.merger.mlp.0.bias", {4 * d}, DType::F32);
  expect_tensor(src, "visual.merger.mlp.2.weight", {H, 4 * d}, DType::F16);
  expect_tensor(src, "visual.merger.mlp.2.bias", {H}, DType::F32);
  // q/k/v were written adjacent, so the joined qkv is a view into the mapped file, not a copy.
  EXPECT_EQ(src.find(b + "attn.qkv.weight")->data, src.mmproj_file()->find("v.blk.0.attn_q.weight")->data);
  EXPECT_EQ(src.find(b + "attn.qkv.bias")->data, src.mmproj_file()->find("v.blk.0.attn_q.bias")->data);

  // The model code binds them all, and runs to finite numbers.
  Qwen2Decoder dec(c.text, src);
  auto vis = VisionEncoder::create(c, src);
  ThreadPool pool(2);
  KvCache cache = dec.make_cache(4);
  std::vector<int32_t> ids = {9707, 11, 1879, 0};
  std::vector<float> x(4 * H), logits(V);
  std::vector<KvCell> cells(4);
  for (int i = 0; i < 4; ++i) cells[i].pos = {i, i, i};
  dec.embed(ids.data(), 4, x.data());
  dec.forward(x.data(), 4, cells.data(), cache, pool, logits.data());
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));
  EXPECT_GT(edgevl_test::max_abs(logits), 0.0f);
  std::vector<float> px(16 * 1176);
  for (size_t i = 0; i < px.size(); ++i) px[i] = std::sin(0.01f * i);
  std::vector<float> emb = vis->encode(px.data(), 1, 4, 4, pool);
  ASSERT_EQ(emb.size(), size_t(4 * H));
  for (float v : emb) ASSERT_TRUE(std::isfinite(v));

  // The pair loads like a converted model (tokenizer rebuilt from the metadata) and answers an
  // image question.
  ModelLoadParams lp;
  lp.path = text;
  lp.mmproj_path = mmproj;
  auto model = Model::load(lp);
  EXPECT_EQ(model->tokenizer().special_id("<|image_pad|>"), 151655);
  SessionParams sp;
  sp.n_threads = 2;
  sp.fixed_size = 56;
  sp.max_context = 128;
  sp.generation.max_new_tokens = 2;
  sp.generation.ignore_eos = true;
  Session session(model, sp);
  ImageU8 img;
  img.width = img.height = 56;
  img.rgb.assign(56 * 56 * 3, 0);
  for (size_t i = 0; i < img.rgb.size(); ++i) img.rgb[i] = uint8_t(i * 7);
  const TurnResult tr = session.chat(message_from_tagged_text("user", "<image>What is this?", {std::make_shared<const ImageU8>(img)}));
  EXPECT_EQ(tr.stats.image_tokens, 4);
  EXPECT_EQ(tr.tokens.size(), 2u);
  for (float v : session.last_logits()) ASSERT_TRUE(std::isfinite(v));
  std::remove(text.c_str());
  std::remove(mmproj.c_str());
}

// Qwen2.5-VL layout (SwiGLU vision MLP, RMSNorm, window attention period) on a reduced 3B preset
// (small vocabulary, untied lm_head, one layer, two vision blocks, no tokenizer), at q8_0 vision, where
// ffn_down's 3420-wide rows are not a multiple of 32 and fall back to f16 as the converter does.
TEST(RandomModel, Qwen25VLReducedPresetLayout) {
  const std::string dir = edgevl_test::temp_dir();
  ModelConfig cfg = random_model_preset("qwen2.5-vl-3b");
  cfg.text.vocab_size = 512;
  cfg.text.tie_word_embeddings = false;
  RandomModelOptions opt;
  opt.text_type = DType::Q8_0;
  opt.vision_type = DType::Q8_0;
  opt.text_layers = 1;
  opt.vision_layers = 2;
  opt.seed = 5;
  opt.n_threads = 2;
  const std::string t1 = dir + "/r25.gguf", m1 = dir + "/r25-mmproj.gguf";
  write_random_model(cfg, opt, t1, m1);
  expect_file_size(t1);
  expect_file_size(m1);
  GgufModelSource src(t1, m1);
  const ModelConfig c = src.config();
  EXPECT_EQ(c.vision.arch, VisionArch::Qwen25VL);
  EXPECT_FALSE(c.text.tie_word_embeddings);
  EXPECT_EQ(c.text.num_layers, 1);
  EXPECT_EQ(c.vision.depth, 2);
  EXPECT_EQ(c.vision.mlp_hidden, 3420);
  EXPECT_EQ(c.vision.window_size, 112);
  // Cut below the period of 8: the last block keeps full attention, block 0 is windowed.
  EXPECT_EQ(c.vision.fullatt_block_indexes, (std::vector<int>{1}));
  EXPECT_EQ(src.mmproj_file()->get_int("clip.vision.n_wa_pattern"), 2);
  const int64_t H = 2048, d = 1280;
  expect_tensor(src, "lm_head.weight", {512, H}, DType::Q8_0);
  expect_tensor(src, "model.layers.0.self_attn.k_proj.weight", {256, H}, DType::Q8_0);
  expect_tensor(src, "model.layers.0.mlp.down_proj.weight", {H, 11008}, DType::Q8_0);
  expect_tensor(src, "visual.blocks.0.mlp.gate_proj.weight", {3420, d}, DType::Q8_0);
  expect_tensor(src, "visual.blocks.0.mlp.gate_proj.bias", {3420}, DType::F32);
  expect_tensor(src, "visual.blocks.0.mlp.up_proj.weight", {3420, d}, DType::Q8_0);
  expect_tensor(src, "visual.blocks.0.mlp.down_proj.weight", {d, 3420}, DType::F16);
  expect_tensor(src, "visual.blocks.0.attn.qkv.weight", {3 * d, d}, DType::Q8_0);
  expect_tensor(src, "visual.patch_embed.proj.weight", {d, 3, 2, 14, 14}, DType::F16);
  expect_tensor(src, "visual.merger.mlp.2.weight", {H, 4 * d}, DType::Q8_0);
  EXPECT_EQ(src.find("visual.blocks.0.norm1.bias"), nullptr);  // RMSNorm
  EXPECT_EQ(src.find("visual.merger.ln_q.bias"), nullptr);
  Qwen2Decoder dec(c.text, src);
  auto vis = VisionEncoder::create(c, src);
  ThreadPool pool(2);
  // 8 x 16 patches = 4 x 8 merged tokens: two 4 x 4 windows in block 0.
  std::vector<float> px(128 * 1176);
  for (size_t i = 0; i < px.size(); ++i) px[i] = std::cos(0.003f * i);
  std::vector<float> emb = vis->encode(px.data(), 1, 8, 16, pool);
  ASSERT_EQ(emb.size(), size_t(32 * H));
  for (float v : emb) ASSERT_TRUE(std::isfinite(v));
  for (const auto& p : {t1, m1}) std::remove(p.c_str());
}

// Same seed, another thread count: byte-identical files (a tiny config, both architectures).
TEST(RandomModel, FilesArePureFunctionsOfTheSeed) {
  const std::string dir = edgevl_test::temp_dir();
  for (const char* preset : {"qwen2-vl-2b", "qwen2.5-vl-3b"}) {
    ModelConfig cfg = random_model_preset(preset);
    cfg.text.hidden_size = cfg.vision.out_hidden_size = 64;
    cfg.text.num_heads = 4;
    cfg.text.num_kv_heads = 2;
    cfg.text.head_dim = 16;
    cfg.text.mrope_section = {2, 3, 3};
    cfg.text.intermediate_size = 96;
    cfg.text.vocab_size = 300;
    cfg.vision.embed_dim = 64;
    cfg.vision.num_heads = 4;
    cfg.vision.mlp_hidden = 80;
    RandomModelOptions opt;
    opt.text_type = DType::Q4_0;
    opt.vision_type = DType::F16;
    opt.text_layers = 2;
    opt.vision_layers = 2;
    opt.seed = 99;
    std::vector<std::string> files;
    for (int threads : {1, 2}) {
      opt.n_threads = threads;
      const std::string t = dir + "/det" + std::to_string(threads) + ".gguf", m = dir + "/det" + std::to_string(threads) + "-mmproj.gguf";
      write_random_model(cfg, opt, t, m);
      files.push_back(read_text_file(t));
      files.push_back(read_text_file(m));
      std::remove(t.c_str());
      std::remove(m.c_str());
    }
    EXPECT_TRUE(files[0] == files[2]) << preset;
    EXPECT_TRUE(files[1] == files[3]) << preset;
    opt.seed = 100;
    write_random_model(cfg, opt, dir + "/det.gguf", "");
    EXPECT_FALSE(read_text_file(dir + "/det.gguf") == files[0]) << preset;
    std::remove((dir + "/det.gguf").c_str());
  }
}

TEST(RandomModel, RejectsUnusableOptions) {
  const ModelConfig cfg = random_model_preset("qwen2-vl-2b");
  EXPECT_THROW(plan_random_model(cfg, DType::I8, DType::F16), Error);
  RandomModelOptions opt;
  opt.stddev = -1;
  EXPECT_THROW(write_random_model(cfg, opt, edgevl_test::temp_dir() + "/never.gguf", ""), Error);
  EXPECT_FALSE(edgevl_test::path_exists(edgevl_test::temp_dir() + "/never.gguf"));
}

TEST(RandomModel, CliRejectsUnknownPresetsAndTypes) {
  const std::string cli = EDGEVL_CLI_PATH;
  const std::string out = edgevl_test::temp_dir() + "/cli_never";
  EXPECT_NE(std::system((cli + " make-model --preset qwen2-vl-72b --out " + out + " -q 2>/dev/null").c_str()), 0);
  EXPECT_NE(std::system((cli + " make-model --preset qwen2-vl-2b --type q5_k --out " + out + " -q 2>/dev/null").c_str()), 0);
  EXPECT_FALSE(edgevl_test::path_exists(out + ".gguf"));
}

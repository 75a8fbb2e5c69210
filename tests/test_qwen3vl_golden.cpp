// Qwen3-VL (dense) against the Hugging Face goldens of tiny-qwen3-vl (transformers 4.57.6):
// config, preprocessing (patch 16), the vision tower piece by piece (patch embedding,
// interpolated position embedding, each DeepStack feature, merged embeddings), the decoder
// with q/k norms, interleaved M-RoPE and DeepStack injection, and whole conversations through
// the Session (turn 1, turn 2 on the kept cache, text only, a third turn with a new image,
// save/load, the 448 on-device convention).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/mmap_file.h"
#include "core/npy.h"
#include "formats/gguf.h"
#include "formats/gguf_convert.h"
#include "formats/gguf_names.h"
#include "formats/model_config.h"
#include "formats/safetensors.h"
#include "runtime/session.h"
#include "fixture_model.h"
#include "test_util.h"
#include "vision/pos_embed_interp.h"
#include "vision/preprocess.h"

using namespace edgevl;
using edgevl_test::fixture;
using json = nlohmann::json;

namespace {

const char* kModel = "tiny-qwen3-vl";

std::string golden(const std::string& f) { return fixture(std::string(kModel) + "/golden/" + f); }

std::shared_ptr<const Model> qwen3() { return edgevl_test::fixture_model(kModel); }

const json& manifest() {
  static const json j = json::parse(read_text_file(golden("manifest.json")));
  return j;
}

ThreadPool& pool() {
  static ThreadPool p(2);
  return p;
}

// max |got - ref| / max |ref|; NaN or Inf anywhere in `got` gives +inf so the check fails.
float rel_diff(const float* got, const std::vector<float>& ref, size_t n) {
  EXPECT_EQ(n, ref.size());
  float d = 0, s = 0;
  for (size_t i = 0; i < std::min(n, ref.size()); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    d = std::max(d, std::fabs(got[i] - ref[i]));
    s = std::max(s, std::fabs(ref[i]));
  }
  return s > 0 ? d / s : d;
}
float rel_diff(const std::vector<float>& got, const std::string& npy) {
  const std::vector<float> ref = load_npy(npy).as_f32();
  return rel_diff(got.data(), ref, got.size());
}

std::vector<int32_t> npy_ids(const std::string& path) {
  auto v = load_npy(path).as_i64();
  return std::vector<int32_t>(v.begin(), v.end());
}

void expect_positions(const Session& s, const std::string& path) {
  NpyArray a = load_npy(path);
  auto p = a.as_i64();
  const int64_t n = a.shape[1];
  ASSERT_EQ(int64_t(s.positions().size()), n);
  for (int64_t i = 0; i < n; ++i)
    for (int ax = 0; ax < 3; ++ax) ASSERT_EQ(s.positions()[i].pos[ax], p[ax * n + i]) << "token " << i << " axis " << ax;
}

std::vector<int32_t> greedy_ids(const std::string& c, const char* turn) {
  const json& cs = manifest()["cases"][c];
  return (turn ? cs[turn]["greedy_ids"] : cs["greedy_ids"]).get<std::vector<int32_t>>();
}

GenerationParams greedy16() {
  GenerationParams g;
  g.max_new_tokens = 16;
  g.ignore_eos = true;
  return g;
}

TurnOptions prefill_only() {
  TurnOptions o;
  o.generate = false;
  return o;
}

SessionParams session_params() {
  SessionParams sp;
  sp.n_threads = 2;
  sp.max_context = 2048;
  return sp;
}

std::shared_ptr<const ImageU8> image(const std::string& png) {
  return std::make_shared<ImageU8>(decode_image_file(fixture("images/" + png)));
}

struct Case {
  std::string name, png;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }
const std::vector<Case> kCases = {
    {"demo_native", "demo.png"}, {"tall_native", "tall.png"}, {"demo_sq448", "demo_sq448.png"}, {"tall_sq448", "tall_sq448.png"}};

constexpr float kTol = 1e-4f;  // max|d| / max|golden|, as for the other tiny models

}  // namespace

// ---- config -------------------------------------------------------------------------------

TEST(Qwen3VLConfig, ShapesFromConfig) {
  REQUIRE_FIXTURES();
  const ModelConfig c = ModelConfig::load(fixture(kModel));
  EXPECT_EQ(c.vision.arch, VisionArch::Qwen3VL);
  EXPECT_EQ(c.text.hidden_size, 64);
  EXPECT_EQ(c.text.head_dim, 16);
  EXPECT_EQ(c.text.num_kv_heads, 2);
  EXPECT_FALSE(c.text.attention_bias);
  EXPECT_TRUE(c.text.qk_norm);
  EXPECT_TRUE(c.text.mrope_interleaved);
  EXPECT_EQ(c.text.mrope_section, (std::array<int, 3>{4, 2, 2}));
  EXPECT_FLOAT_EQ(c.text.rope_theta, 5e6f);
  EXPECT_EQ(c.vision.patch_size, 16);
  EXPECT_EQ(c.vision.embed_dim, 32);
  EXPECT_EQ(c.vision.mlp_hidden, 64);
  EXPECT_EQ(c.vision.num_position_embeddings, 256);
  EXPECT_EQ(c.vision.deepstack_visual_indexes, (std::vector<int>{1, 2}));
  EXPECT_EQ(c.vision.hidden_act, "gelu_pytorch_tanh");
  EXPECT_FALSE(c.template_default_system);
}

TEST(Qwen3VLConfig, MoeIsUnsupportedWithAClearError) {
  REQUIRE_FIXTURES();
  json j = json::parse(read_text_file(fixture(std::string(kModel) + "/config.json")));
  j["architectures"] = {"Qwen3VLMoeForConditionalGeneration"};
  j["model_type"] = "qwen3_vl_moe";
  try {
    ModelConfig::parse(j.dump(), "moe/config.json");
    FAIL() << "MoE config accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("MoE"), std::string::npos) << e.what();
  }
}

TEST(Qwen3VLConfig, RejectsBadDeepStackAndPositionGrid) {
  REQUIRE_FIXTURES();
  const json base = json::parse(read_text_file(fixture(std::string(kModel) + "/config.json")));
  json j = base;
  j["vision_config"]["deepstack_visual_indexes"] = {1, 4};  // depth 4
  EXPECT_THROW(ModelConfig::parse(j.dump(), "x"), Error);
  j = base;
  j["vision_config"]["num_position_embeddings"] = 250;  // not a square
  EXPECT_THROW(ModelConfig::parse(j.dump(), "x"), Error);
  j = base;
  j["text_config"]["rope_scaling"]["mrope_interleaved"] = "yes";
  EXPECT_THROW(ModelConfig::parse(j.dump(), "x"), Error);
}

// ---- interleaved M-RoPE --------------------------------------------------------------------

TEST(Qwen3VLMRope, InterleavedAxesFollowTheReferenceRule) {
  // head_dim 16, section [4, 2, 2]: t for j in {0, 3, 6, 7}, h for {1, 4}, w for {2, 5}.
  MRope r(16, 5e6f, {4, 2, 2}, true);
  const int axis_of[8] = {0, 1, 2, 0, 1, 2, 0, 0};
  for (int axis = 0; axis < 3; ++axis) {
    std::array<int32_t, 3> pos{0, 0, 0};
    pos[axis] = 7;  // moves exactly the frequencies that axis owns (both halves)
    float c[16], s[16];
    r.table(pos, c, s);
    for (int k = 0; k < 16; ++k) {
      const bool moved = s[k] != 0.0f;
      EXPECT_EQ(moved, axis_of[k % 8] == axis) << "dim " << k << " when axis " << axis << " moves";
    }
  }
}

// ---- preprocessing and vision tower ---------------------------------------------------------

TEST(Qwen3VLPreprocess, TallNativeResizeAndPixelValues) {
  REQUIRE_FIXTURES();
  const PreprocessConfig pre = qwen3()->preprocess_config();
  EXPECT_EQ(pre.patch_size, 16);
  const ImageU8 img = decode_image_file(fixture("images/tall.png"));
  const ImageU8 resized = resize_for_model(img, pre);
  NpyArray ru = load_npy(golden("tall_native.resized_uint8.npy"));
  ASSERT_EQ(ru.shape, (std::vector<int64_t>{resized.height, resized.width, 3}));
  EXPECT_EQ(resized.rgb, ru.as_u8());
  const PixelPatches px = preprocess_image(img, pre);
  EXPECT_EQ(px.grid_h, 32);
  EXPECT_EQ(px.grid_w, 22);
  const std::vector<float> ref = load_npy(golden("tall_native.pixel_values.npy")).as_f32();
  ASSERT_EQ(px.data.size(), ref.size());
  EXPECT_EQ(std::memcmp(px.data.data(), ref.data(), ref.size() * 4), 0) << "pixel values are not bit-exact";
}

class Qwen3VLVision : public ::testing::TestWithParam<Case> {};

TEST_P(Qwen3VLVision, EveryStageMatches) {
  REQUIRE_FIXTURES();
  const Case& c = GetParam();
  const Model& m = *qwen3();
  const PixelPatches px = preprocess_image(decode_image_file(fixture("images/" + c.png)), m.preprocess_config());
  const std::vector<int64_t> grid = load_npy(golden(c.name + ".image_grid_thw.npy")).as_i64();
  ASSERT_EQ(grid, (std::vector<int64_t>{px.grid_t, px.grid_h, px.grid_w}));
  const int64_t n = px.n_patches();

  const float d_patch = rel_diff(m.vision().patch_embed(px.data.data(), n, pool()), golden(c.name + ".vision_patch_embed.npy"));
  EXPECT_LE(d_patch, kTol);

  // The interpolated position embedding on its own, from the checkpoint's table.
  const VisionConfig& vc = m.config().vision;
  SafetensorsModel w(fixture(kModel));
  const std::vector<float> table = tensor_to_f32(w.get("model.visual.pos_embed.weight"));
  const std::vector<float> pos = interpolate_pos_embed(table.data(), 16, vc.embed_dim, px.grid_t, px.grid_h, px.grid_w,
                                                       vc.spatial_merge_size);
  const float d_pos = rel_diff(pos, golden(c.name + ".vision_pos_embed.npy"));
  EXPECT_LE(d_pos, 1e-5f);  // a few float32 ulps (torch's vectorised linspace)

  std::vector<std::vector<float>> deepstack;
  const std::vector<float> emb = m.vision().encode(px.data.data(), px.grid_t, px.grid_h, px.grid_w, pool(), Cancel(), &deepstack);
  const float d_emb = rel_diff(emb, golden(c.name + ".vision_embeds.npy"));
  EXPECT_LE(d_emb, kTol);
  ASSERT_EQ(deepstack.size(), 2u);
  float d_ds[2];
  for (int k = 0; k < 2; ++k) {
    d_ds[k] = rel_diff(deepstack[k], golden(c.name + ".deepstack_" + std::to_string(k) + ".npy"));
    EXPECT_LE(d_ds[k], kTol) << "DeepStack feature " << k;
  }
  std::printf("[qwen3-vl vision] %s: patch_embed %.2g, pos_embed %.2g, deepstack %.2g %.2g, embeds %.2g\n", c.name.c_str(),
              d_patch, d_pos, d_ds[0], d_ds[1], d_emb);
}

INSTANTIATE_TEST_SUITE_P(Cases, Qwen3VLVision, ::testing::ValuesIn(kCases), [](const auto& i) { return i.param.name; });

// ---- decoder: inputs_embeds, DeepStack residuals, final hidden ------------------------------

TEST(Qwen3VLDecoder, InputsEmbedsAndFinalHiddenWithDeepStack) {
  REQUIRE_FIXTURES();
  const std::string c = "tall_sq448";
  const Model& m = *qwen3();
  const Qwen2Decoder& dec = m.decoder();
  const int H = dec.hidden_size();
  const std::vector<int32_t> ids = npy_ids(golden(c + ".turn1.input_ids.npy"));
  const std::vector<int64_t> pos = load_npy(golden(c + ".turn1.position_ids.npy")).as_i64();
  const int64_t n = int64_t(ids.size());
  const ImageEmbedding e = m.encode_image(decode_image_file(fixture("images/tall_sq448.png")), m.preprocess_config(), pool());
  ASSERT_EQ(e.deepstack.size(), 2u);
  // inputs_embeds: token embeddings with the image rows scattered in.
  std::vector<float> x(n * H);
  dec.embed(ids.data(), n, x.data());
  int64_t first = -1, r = 0;
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] == m.config().image_token_id) {
      if (first < 0) first = i;
      std::memcpy(x.data() + i * H, e.embeds.data() + r++ * H, sizeof(float) * H);
    }
  ASSERT_EQ(r, e.n_tokens);
  EXPECT_LE(rel_diff(x, golden(c + ".turn1.inputs_embeds.npy")), kTol);
  std::vector<KvCell> cells(n);
  for (int64_t i = 0; i < n; ++i)
    for (int a = 0; a < 3; ++a) cells[i].pos[a] = int32_t(pos[a * n + i]);
  KvCache cache = dec.make_cache(n);
  std::vector<float> hidden(n * H), logits(dec.vocab_size());
  dec.forward(x.data(), n, cells.data(), cache, pool(), logits.data(), hidden.data(), Cancel(), {{first, e.n_tokens, 0, &e.deepstack}});
  const float dh = rel_diff(hidden, golden(c + ".turn1.final_hidden.npy"));
  const float dl = rel_diff(logits, golden(c + ".turn1.last_logits.npy"));
  EXPECT_LE(dh, kTol);
  EXPECT_LE(dl, kTol);
  // Without DeepStack the model is measurably different (the injection is not a no-op).
  KvCache cache2 = dec.make_cache(n);
  std::vector<float> logits2(dec.vocab_size());
  dec.forward(x.data(), n, cells.data(), cache2, pool(), logits2.data());
  EXPECT_GT(rel_diff(logits2, golden(c + ".turn1.last_logits.npy")), 100 * kTol);
  std::printf("[qwen3-vl decoder] %s: final_hidden %.2g, last_logits %.2g\n", c.c_str(), dh, dl);
}

// ---- the Session ---------------------------------------------------------------------------

TEST(Qwen3VLSession, TextOnly) {
  REQUIRE_FIXTURES();
  Session probe(qwen3(), session_params());
  Message msg = message_from_tagged_text("user", "Hello! Tell me a short story about 3 dragons and a 中文 poem.", {});
  TurnOptions o = prefill_only();
  o.want_hidden = true;
  TurnResult p = probe.chat(msg, GenerationParams{}, nullptr, o);
  EXPECT_EQ(probe.history(), npy_ids(golden("text_only.input_ids.npy")));  // no default system prompt
  expect_positions(probe, golden("text_only.position_ids.npy"));
  EXPECT_LE(rel_diff(probe.last_logits(), golden("text_only.last_logits.npy")), kTol);
  const std::vector<float> fh = load_npy(golden("text_only.final_hidden.npy")).as_f32();
  const std::vector<float> last(fh.end() - 64, fh.end());
  EXPECT_LE(rel_diff(p.hidden.data(), last, p.hidden.size()), kTol);
  Session s(qwen3(), session_params());
  EXPECT_EQ(s.chat(msg, greedy16(), nullptr).tokens, greedy_ids("text_only", nullptr));
}

struct SessionCase {
  std::string name, png;
  int fixed_size;
};
void PrintTo(const SessionCase& c, std::ostream* os) { *os << c.name << " from " << c.png; }

class Qwen3VLSessionGolden : public ::testing::TestWithParam<SessionCase> {};

TEST_P(Qwen3VLSessionGolden, TwoTurnsOnTheKeptCache) {
  REQUIRE_FIXTURES();
  const SessionCase& c = GetParam();
  SessionParams sp = session_params();
  sp.fixed_size = c.fixed_size;
  const auto img = image(c.png);
  const Message m1 = message_from_tagged_text("user", "<image>Describe this image.", {img});
  const Message m2 = message_from_tagged_text("user", "What color is it?", {});
  Session probe(qwen3(), sp);
  TurnOptions o = prefill_only();
  o.want_hidden = true;
  TurnResult p1 = probe.chat(m1, GenerationParams{}, nullptr, o);
  ASSERT_EQ(probe.history(), npy_ids(golden(c.name + ".turn1.input_ids.npy")));
  expect_positions(probe, golden(c.name + ".turn1.position_ids.npy"));
  const float d1 = rel_diff(probe.last_logits(), golden(c.name + ".turn1.last_logits.npy"));
  EXPECT_LE(d1, kTol);
  const std::vector<float> fh = load_npy(golden(c.name + ".turn1.final_hidden.npy")).as_f32();
  EXPECT_LE(rel_diff(p1.hidden.data(), std::vector<float>(fh.end() - 64, fh.end()), 64), kTol);

  Session s(qwen3(), sp);
  EXPECT_EQ(s.chat(m1, greedy16(), nullptr).tokens, greedy_ids(c.name, "turn1"));
  TurnResult p2 = s.chat(m2, GenerationParams{}, nullptr, prefill_only());
  EXPECT_EQ(p2.stats.prompt_tokens, 1 + int64_t(manifest()["cases"][c.name]["turn2"]["appended_suffix_ids"].size()));
  ASSERT_EQ(s.history(), npy_ids(golden(c.name + ".turn2.input_ids.npy")));
  expect_positions(s, golden(c.name + ".turn2.position_ids.npy"));
  const float d2 = rel_diff(s.last_logits(), golden(c.name + ".turn2.last_logits.npy"));
  EXPECT_LE(d2, kTol);

  Session s2(qwen3(), sp);
  s2.chat(m1, greedy16(), nullptr);
  EXPECT_EQ(s2.chat(m2, greedy16(), nullptr).tokens, greedy_ids(c.name, "turn2"));
  std::printf("[qwen3-vl session] %s%s: turn1 logits %.2g, turn2 (kept cache) %.2g\n", c.name.c_str(),
              c.fixed_size ? " (--fixed-size from the original)" : "", d1, d2);
}

INSTANTIATE_TEST_SUITE_P(Cases, Qwen3VLSessionGolden,
                         ::testing::Values(SessionCase{"demo_native", "demo.png", 0}, SessionCase{"tall_native", "tall.png", 0},
                                           SessionCase{"demo_sq448", "demo_sq448.png", 0},
                                           SessionCase{"tall_sq448", "tall_sq448.png", 0},
                                           // The on-device convention computed from the original image.
                                           SessionCase{"demo_sq448", "demo.png", 448},
                                           SessionCase{"tall_sq448", "tall.png", 448}),
                         [](const auto& i) { return i.param.name + (i.param.fixed_size ? "_fixed448" : ""); });

// A new image in a later turn on the kept cache gets its own DeepStack features: the same
// logits and tokens as recomputing the whole conversation, and the same after save/load.
TEST(Qwen3VLSession, ThirdTurnWithANewImageEqualsFullRecompute) {
  REQUIRE_FIXTURES();
  SessionParams sp = session_params();
  Session s(qwen3(), sp);
  s.chat(message_from_tagged_text("user", "<image>Describe this image.", {image("demo_sq448.png")}), greedy16(), nullptr);
  s.chat(message_from_tagged_text("user", "What color is it?", {}), greedy16(), nullptr);
  const Message m3 = message_from_tagged_text("user", "<image>And this one?", {image("tall_sq448.png")});
  TurnResult p3 = s.chat(m3, GenerationParams{}, nullptr, prefill_only());
  EXPECT_EQ(p3.stats.image_tokens, 196);
  const std::vector<float> cached = s.last_logits();
  s.rebuild_cache();  // every image's DeepStack features again, in one prefill
  const std::vector<float> full = s.last_logits();
  const float d = rel_diff(cached.data(), full, cached.size());
  EXPECT_LE(d, 1e-5f);
  // The first token of turn 3 is the argmax of those logits (the tiny model's margins are >= 0.0044).
  EXPECT_EQ(std::max_element(cached.begin(), cached.end()) - cached.begin(), std::max_element(full.begin(), full.end()) - full.begin());
  // Tokens: turn 3 generated on the kept cache vs in a session whose turns 1-2 were recomputed
  // in one prefill from a saved file (DeepStack features restored from it, nothing re-encoded).
  Session a(qwen3(), sp);
  a.chat(message_from_tagged_text("user", "<image>Describe this image.", {image("demo_sq448.png")}), greedy16(), nullptr);
  a.chat(message_from_tagged_text("user", "What color is it?", {}), greedy16(), nullptr);
  const std::string path = edgevl_test::temp_dir() + "/qwen3vl_session.bin";
  a.save(path);
  Session b(qwen3(), sp);
  b.load(path);
  EXPECT_EQ(b.images_encoded_total(), 0);
  EXPECT_EQ(b.history(), a.history());
  const TurnResult ra = a.chat(m3, greedy16(), nullptr);
  const TurnResult rb = b.chat(m3, greedy16(), nullptr);
  EXPECT_EQ(ra.tokens.size(), 16u);
  EXPECT_EQ(ra.tokens, rb.tokens);
  std::printf("[qwen3-vl session] third turn with a new image: cached vs full recompute logits %.2g\n", d);
}

// Eviction (DropOldest) on a small context: the turn that stays is recomputed at its new
// positions with its DeepStack features and equals a fresh conversation holding only it.
TEST(Qwen3VLSession, EvictionEqualsAFreshConversation) {
  REQUIRE_FIXTURES();
  SessionParams sp = session_params();
  sp.max_context = 300;  // one sq448 image turn (~210 tokens) fits, two do not
  sp.overflow = OverflowPolicy::DropOldest;
  Session s(qwen3(), sp);
  GenerationParams g4 = greedy16();
  g4.max_new_tokens = 4;
  s.chat(message_from_tagged_text("user", "<image>Describe this image.", {image("demo_sq448.png")}), g4, nullptr);
  const Message m2 = message_from_tagged_text("user", "<image>Describe this image.", {image("tall_sq448.png")});
  TurnResult r = s.chat(m2, GenerationParams{}, nullptr, prefill_only());
  EXPECT_EQ(r.stats.turns_evicted, 1);
  Session fresh(qwen3(), session_params());
  fresh.chat(m2, GenerationParams{}, nullptr, prefill_only());
  EXPECT_EQ(s.history(), fresh.history());
  EXPECT_LE(rel_diff(s.last_logits().data(), fresh.last_logits(), fresh.last_logits().size()), 1e-5f);
  // And both are the tall_sq448 golden.
  EXPECT_LE(rel_diff(fresh.last_logits(), golden("tall_sq448.turn1.last_logits.npy")), kTol);
}

// ---- GGUF in llama.cpp's Qwen3-VL naming ---------------------------------------------------

namespace {

std::shared_ptr<const Model> converted(DType type) {
  static std::map<DType, std::shared_ptr<const Model>> cache;
  auto& m = cache[type];
  if (!m) {
    const std::string prefix = edgevl_test::temp_dir() + "/tiny-qwen3-vl." + dtype_name(type);
    GgufConvertOptions opt;
    opt.text_type = type;
    opt.vision_type = type;
    convert_hf_to_gguf(fixture(kModel), prefix + ".gguf", prefix + "-mmproj.gguf", opt);
    ModelLoadParams p;
    p.path = prefix + ".gguf";
    p.mmproj_path = prefix + "-mmproj.gguf";
    m = Model::load(p);
  }
  return m;
}

}  // namespace

TEST(Qwen3VLGguf, LlamaCppNamesAndKeys) {
  REQUIRE_FIXTURES();
  converted(DType::F32);
  const std::string prefix = edgevl_test::temp_dir() + "/tiny-qwen3-vl.f32";
  GgufFile text(prefix + ".gguf"), mm(prefix + "-mmproj.gguf");
  EXPECT_EQ(text.architecture(), "qwen3vl");
  EXPECT_EQ(text.get_int("qwen3vl.n_deepstack_layers", -1), 2);
  EXPECT_EQ(text.get_int_array("qwen3vl.rope.dimension_sections"), (std::vector<int64_t>{4, 2, 2, 0}));
  EXPECT_NE(text.find("blk.1.attn_k_norm.weight"), nullptr);
  EXPECT_EQ(text.find("blk.0.attn_q.bias"), nullptr);
  EXPECT_EQ(mm.get_string("clip.projector_type", ""), "qwen3vl_merger");
  EXPECT_EQ(mm.get_int_array("clip.vision.is_deepstack_layers"), (std::vector<int64_t>{0, 1, 1, 0}));
  EXPECT_EQ(mm.get_int("clip.vision.image_size", -1), 256);  // sqrt(256) x patch 16
  // DeepStack merger K is named after its vision block deepstack_visual_indexes[K].
  for (const char* n : {"v.deepstack.1.norm.weight", "v.deepstack.2.fc1.weight", "v.deepstack.2.fc2.bias", "v.position_embd.weight",
                        "v.blk.3.attn_qkv.weight", "v.patch_embd.weight.1", "v.patch_embd.bias", "v.post_ln.weight", "mm.2.weight"})
    EXPECT_NE(mm.find(n), nullptr) << n;
  EXPECT_EQ(gguf_vision_name("model.visual.deepstack_merger_list.0.linear_fc1.weight", {1, 2}), "v.deepstack.1.fc1.weight");
  EXPECT_EQ(hf_vision_name("v.deepstack.2.norm.bias", VisionArch::Qwen3VL, {1, 2}), "visual.deepstack_merger_list.1.norm.bias");
  EXPECT_EQ(hf_vision_name("v.deepstack.3.norm.bias", VisionArch::Qwen3VL, {1, 2}), "");
}

TEST(Qwen3VLGguf, F32AndF16PassTheGoldens) {
  REQUIRE_FIXTURES();
  for (DType t : {DType::F32, DType::F16}) {
    SCOPED_TRACE(dtype_name(t));
    const auto m = converted(t);
    EXPECT_EQ(m->config().vision.arch, VisionArch::Qwen3VL);
    EXPECT_EQ(m->config().vision.deepstack_visual_indexes, (std::vector<int>{1, 2}));
    Session probe(m, session_params());
    const Message m1 = message_from_tagged_text("user", "<image>Describe this image.", {image("tall_sq448.png")});
    probe.chat(m1, GenerationParams{}, nullptr, prefill_only());
    EXPECT_EQ(probe.history(), npy_ids(golden("tall_sq448.turn1.input_ids.npy")));
    const float d = rel_diff(probe.last_logits(), golden("tall_sq448.turn1.last_logits.npy"));
    EXPECT_LE(d, kTol);
    Session s(m, session_params());
    EXPECT_EQ(s.chat(m1, greedy16(), nullptr).tokens, greedy_ids("tall_sq448", "turn1"));
    EXPECT_EQ(s.chat(message_from_tagged_text("user", "What color is it?", {}), greedy16(), nullptr).tokens,
              greedy_ids("tall_sq448", "turn2"));
    Session txt(m, session_params());
    EXPECT_EQ(txt.chat(message_from_tagged_text("user", "Hello! Tell me a short story about 3 dragons and a 中文 poem.", {}),
                       greedy16(), nullptr).tokens,
              greedy_ids("text_only", nullptr));
    std::printf("[qwen3-vl gguf] %s: turn1 last logits %.2g\n", dtype_name(t), d);
  }
}

TEST(Qwen3VLGguf, Q8AndQ4LoadAndRun) {
  REQUIRE_FIXTURES();
  for (DType t : {DType::Q8_0, DType::Q4_0}) {
    SCOPED_TRACE(dtype_name(t));
    Session probe(converted(t), session_params());
    probe.chat(message_from_tagged_text("user", "<image>Describe this image.", {image("tall_sq448.png")}), GenerationParams{}, nullptr,
               prefill_only());
    const float d = rel_diff(probe.last_logits(), golden("tall_sq448.turn1.last_logits.npy"));
    EXPECT_TRUE(std::isfinite(d));
    const std::vector<int32_t> want = greedy_ids("tall_sq448", "turn1");
    const auto& l = probe.last_logits();
    const int32_t top = int32_t(std::max_element(l.begin(), l.end()) - l.begin());
    std::printf("[qwen3-vl gguf] %s: turn1 max|dlogit|/max|logit| = %.3g, first token %s the reference\n", dtype_name(t), d,
                top == want[0] ? "equals" : "differs from");
  }
}

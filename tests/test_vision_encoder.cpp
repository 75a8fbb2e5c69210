// Vision towers (Qwen2-VL, Qwen2.5-VL) against the HF goldens, window layout, rotary tables,
// and bad checkpoints.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/npy.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "formats/model_config.h"
#include "formats/safetensors.h"
#include "test_util.h"
#include "vision/vision_encoder.h"
#include "vision/vision_rope.h"
#include "vision/window_index.h"

using namespace edgevl;
using edgevl_test::fixture;

namespace {

const std::vector<std::string> kCases = {"demo_native", "tall_native", "demo_sq392", "tall_sq392"};
const std::vector<std::string> kModels = {"tiny-qwen2-vl", "tiny-qwen2.5-vl"};

struct Model {
  ModelConfig cfg;
  std::unique_ptr<SafetensorsModel> weights;
  std::unique_ptr<VisionEncoder> encoder;
};

// Loaded once per model for the whole test binary.
const Model& model(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Model>> cache;
  auto& m = cache[name];
  if (!m) {
    m = std::make_unique<Model>();
    const std::string dir = fixture(name);
    m->cfg = ModelConfig::load(dir);
    m->weights = std::make_unique<SafetensorsModel>(dir);
    m->encoder = VisionEncoder::create(m->cfg, *m->weights);
  }
  return *m;
}

struct Image {
  std::vector<float> pixels;
  int64_t rows = 0, cols = 0;
  int t = 0, h = 0, w = 0;
};

Image load_case(const std::string& c) {
  Image im;
  NpyArray px = load_npy(fixture("preprocess/" + c + ".pixel_values.npy"));
  NpyArray grid = load_npy(fixture("preprocess/" + c + ".image_grid_thw.npy"));
  EXPECT_EQ(px.shape.size(), 2u);
  im.rows = px.shape[0];
  im.cols = px.shape[1];
  im.pixels = px.as_f32();
  std::vector<int64_t> g = grid.as_i64();
  EXPECT_EQ(g.size(), 3u);
  im.t = static_cast<int>(g[0]);
  im.h = static_cast<int>(g[1]);
  im.w = static_cast<int>(g[2]);
  EXPECT_EQ(im.rows, static_cast<int64_t>(im.t) * im.h * im.w);
  return im;
}

ThreadPool& test_pool() {
  static ThreadPool pool(std::min(4, default_thread_count()));
  return pool;
}

std::string case_name(const ::testing::TestParamInfo<std::tuple<std::string, std::string>>& info) {
  std::string s = std::get<0>(info.param) + "_" + std::get<1>(info.param);
  for (char& ch : s)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

class VisionGolden : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(VisionGolden, PatchEmbed) {
  REQUIRE_FIXTURES();
  const auto& [mname, c] = GetParam();
  const Model& m = model(mname);
  Image im = load_case(c);
  ASSERT_EQ(im.cols, static_cast<int64_t>(m.cfg.vision.in_channels) * m.cfg.vision.temporal_patch_size *
                         m.cfg.vision.patch_size * m.cfg.vision.patch_size);
  NpyArray g = load_npy(fixture(mname + "/golden/" + c + ".vision_patch_embed.npy"));
  ASSERT_EQ(g.shape, (std::vector<int64_t>{im.rows, m.cfg.vision.embed_dim}));
  std::vector<float> gold = g.as_f32();
  std::vector<float> got = m.encoder->patch_embed(im.pixels.data(), im.rows, test_pool());
  const float diff = edgevl_test::max_abs_diff(got, gold), scale = edgevl_test::max_abs(gold);
  std::printf("[vision] %s %s patch_embed: max|d| = %.3g, max|golden| = %.3g, ratio = %.3g\n", mname.c_str(), c.c_str(),
              diff, scale, diff / scale);
  EXPECT_LE(diff, 1e-4f * scale);
}

TEST_P(VisionGolden, Embeds) {
  REQUIRE_FIXTURES();
  const auto& [mname, c] = GetParam();
  const Model& m = model(mname);
  Image im = load_case(c);
  NpyArray g = load_npy(fixture(mname + "/golden/" + c + ".vision_embeds.npy"));
  const int unit = m.cfg.vision.spatial_merge_size * m.cfg.vision.spatial_merge_size;
  ASSERT_EQ(g.shape, (std::vector<int64_t>{im.rows / unit, m.cfg.vision.out_hidden_size}));
  std::vector<float> gold = g.as_f32();
  const double t0 = now_ms();
  std::vector<float> got = m.encoder->encode(im.pixels.data(), im.t, im.h, im.w, test_pool());
  const double ms = now_ms() - t0;
  const float diff = edgevl_test::max_abs_diff(got, gold), scale = edgevl_test::max_abs(gold);
  std::printf("[vision] %s %s embeds (%lld tokens, %.1f ms): max|d| = %.3g, max|golden| = %.3g, ratio = %.3g\n",
              mname.c_str(), c.c_str(), static_cast<long long>(im.rows / unit), ms, diff, scale, diff / scale);
  EXPECT_LE(diff, 1e-4f * scale);
}

INSTANTIATE_TEST_SUITE_P(AllCases, VisionGolden,
                         ::testing::Combine(::testing::ValuesIn(kModels), ::testing::ValuesIn(kCases)), case_name);

class WindowGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(WindowGolden, IndexAndSeqlens) {
  REQUIRE_FIXTURES();
  const std::string c = GetParam();
  const Model& m = model("tiny-qwen2.5-vl");
  Image im = load_case(c);
  VisionWindows w = vision_window_index(m.cfg.vision, im.t, im.h, im.w);
  std::vector<int64_t> gi = load_npy(fixture("tiny-qwen2.5-vl/golden/" + c + ".vision_window_index.npy")).as_i64();
  std::vector<int64_t> gc = load_npy(fixture("tiny-qwen2.5-vl/golden/" + c + ".vision_cu_window_seqlens.npy")).as_i64();
  EXPECT_EQ(w.window_index, gi);
  EXPECT_EQ(w.cu_seqlens, gc);
}

INSTANTIATE_TEST_SUITE_P(AllCases, WindowGolden, ::testing::ValuesIn(kCases));

TEST(VisionWindows, IsPermutationWithCoveringSegments) {
  // 3 frames, 10x6 merged tokens, windows of 4: ragged right and bottom edges.
  VisionWindows w = vision_window_index(3, 20, 12, 2, 4);
  const int64_t per_frame = 10 * 6;
  ASSERT_EQ(w.window_index.size(), static_cast<size_t>(3 * per_frame));
  std::vector<int64_t> sorted = w.window_index;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(sorted[i], static_cast<int64_t>(i));
  // 3 x 2 windows per frame, none empty: sizes 16, 8, 16, 8, 8, 4 (in merged tokens).
  const std::vector<int64_t> sizes = {16, 8, 16, 8, 8, 4};
  ASSERT_EQ(w.cu_seqlens.size(), 1 + 3 * sizes.size());
  for (size_t k = 0; k + 1 < w.cu_seqlens.size(); ++k)
    EXPECT_EQ(w.cu_seqlens[k + 1] - w.cu_seqlens[k], 4 * sizes[k % sizes.size()]) << "window " << k;
  // A window never mixes frames.
  EXPECT_EQ(w.window_index[per_frame - 1] / per_frame, 0);
  EXPECT_EQ(w.window_index[per_frame] / per_frame, 1);
  EXPECT_THROW(vision_window_index(1, 5, 4, 2, 4), Error);  // odd grid
  EXPECT_THROW(vision_window_index(1, 4, 4, 2, 0), Error);  // empty window
}

TEST(VisionRope, PositionsFollowMergeBlocks) {
  // grid 1x4x6, merge 2: row r = ((bh*3 + bw)*4 + mh*2 + mw).
  std::vector<int32_t> pos = vision_patch_positions(1, 4, 6, 2);
  ASSERT_EQ(pos.size(), 48u);
  for (int bh = 0; bh < 2; ++bh)
    for (int bw = 0; bw < 3; ++bw)
      for (int mh = 0; mh < 2; ++mh)
        for (int mw = 0; mw < 2; ++mw) {
          const int r = (bh * 3 + bw) * 4 + mh * 2 + mw;
          EXPECT_EQ(pos[2 * r], 2 * bh + mh);
          EXPECT_EQ(pos[2 * r + 1], 2 * bw + mw);
        }
  // head_dim 8: angles [row*f0, row*f1, col*f0, col*f1] repeated, f_i = 10000^(-i/2).
  VisionRopeTables t = vision_rope_tables(1, 4, 6, 2, 8);
  const int r = (1 * 3 + 2) * 4 + 1 * 2 + 1;  // patch row 3, col 5
  const double f[2] = {1.0, 1.0 / 100.0};
  const double ang[4] = {3 * f[0], 3 * f[1], 5 * f[0], 5 * f[1]};
  for (int i = 0; i < 8; ++i) {
    EXPECT_NEAR(t.cos[r * 8 + i], std::cos(ang[i % 4]), 1e-6) << i;
    EXPECT_NEAR(t.sin[r * 8 + i], std::sin(ang[i % 4]), 1e-6) << i;
  }
  EXPECT_THROW(vision_rope_tables(1, 4, 6, 2, 6), Error);
}

// A TensorSource over another one with one tensor hidden or given a different shape.
class AlteredSource : public TensorSource {
 public:
  AlteredSource(const TensorSource& base, std::string name, std::vector<int64_t> new_shape = {})
      : base_(base), name_(std::move(name)) {
    if (!new_shape.empty()) {
      const TensorRef* t = base_.find(name_);
      if (t) {
        altered_ = *t;
        altered_.shape = std::move(new_shape);
        has_altered_ = true;
      }
    }
  }
  const TensorRef* find(const std::string& name) const override {
    if (name != name_) return base_.find(name);
    return has_altered_ ? &altered_ : nullptr;
  }
  std::vector<std::string> names() const override {
    std::vector<std::string> v = base_.names();
    if (!has_altered_) v.erase(std::remove(v.begin(), v.end(), name_), v.end());
    return v;
  }
  std::string description() const override { return "altered " + base_.description(); }

 private:
  const TensorSource& base_;
  std::string name_;
  TensorRef altered_;
  bool has_altered_ = false;
};

std::string create_error(const std::string& model_name, const TensorSource& src) {
  const Model& m = model(model_name);
  try {
    VisionEncoder::create(m.cfg, src);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFormat);
    return e.what();
  }
  return "";
}

TEST(VisionEncoderBadWeights, MissingTensorIsNamed) {
  REQUIRE_FIXTURES();
  for (const std::string& mname : kModels) {
    const Model& m = model(mname);
    for (const std::string name : {"visual.blocks.1.attn.qkv.weight", "visual.blocks.0.norm2.weight",
                                   "visual.merger.mlp.2.bias", "visual.patch_embed.proj.weight"}) {
      ASSERT_TRUE(m.weights->has(name)) << name;
      AlteredSource src(*m.weights, name);
      const std::string err = create_error(mname, src);
      EXPECT_NE(err.find("'" + name + "'"), std::string::npos) << mname << ": " << err;
      EXPECT_NE(err.find("missing"), std::string::npos) << err;
    }
  }
  // Qwen2.5-VL-only tensors.
  AlteredSource src(*model("tiny-qwen2.5-vl").weights, "visual.blocks.3.mlp.gate_proj.bias");
  EXPECT_NE(create_error("tiny-qwen2.5-vl", src).find("visual.blocks.3.mlp.gate_proj.bias"), std::string::npos);
}

TEST(VisionEncoderBadWeights, WrongShapeIsNamed) {
  REQUIRE_FIXTURES();
  struct Case {
    const char* model;
    const char* name;
    std::vector<int64_t> shape;
  };
  const Case cases[] = {
      {"tiny-qwen2-vl", "visual.blocks.1.mlp.fc1.weight", {128, 31}},
      {"tiny-qwen2-vl", "visual.merger.ln_q.bias", {33}},
      {"tiny-qwen2-vl", "visual.patch_embed.proj.weight", {32, 3, 1, 14, 14}},
      {"tiny-qwen2.5-vl", "visual.blocks.2.attn.qkv.weight", {64, 32}},
      {"tiny-qwen2.5-vl", "visual.merger.mlp.0.weight", {128, 64}},
  };
  for (const Case& c : cases) {
    AlteredSource src(*model(c.model).weights, c.name, c.shape);
    const std::string err = create_error(c.model, src);
    EXPECT_NE(err.find(std::string("'") + c.name + "'"), std::string::npos) << c.model << ": " << err;
    EXPECT_NE(err.find("shape"), std::string::npos) << err;
  }
}

TEST(VisionEncoderBadInput, GridMustBeMergeMultiple) {
  REQUIRE_FIXTURES();
  for (const std::string& mname : kModels) {
    const Model& m = model(mname);
    std::vector<float> px(static_cast<size_t>(3 * 4) * 1176, 0.0f);
    try {
      m.encoder->encode(px.data(), 1, 3, 4, test_pool());
      ADD_FAILURE() << mname << ": odd grid accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    }
    EXPECT_THROW(m.encoder->encode(px.data(), 0, 2, 2, test_pool()), Error);
  }
}

// Prints the time of one 392x392 encode (196 tokens); no assertion on time.
TEST(VisionEncoderTiming, Encode392) {
  REQUIRE_FIXTURES();
  Image im = load_case("demo_sq392");
  for (const std::string& mname : kModels) {
    const Model& m = model(mname);
    for (int threads : {1, default_thread_count()}) {
      ThreadPool pool(threads);
      m.encoder->encode(im.pixels.data(), im.t, im.h, im.w, pool);  // warm-up
      double best = 1e30;
      for (int i = 0; i < 5; ++i) {
        const double t0 = now_ms();
        std::vector<float> out = m.encoder->encode(im.pixels.data(), im.t, im.h, im.w, pool);
        best = std::min(best, now_ms() - t0);
        ASSERT_EQ(out.size(), static_cast<size_t>(196 * m.cfg.vision.out_hidden_size));
      }
      std::printf("[vision] timing %s 392x392 (196 tokens), %d thread(s): %.2f ms (best of 5)\n", mname.c_str(), threads, best);
    }
  }
}

}  // namespace

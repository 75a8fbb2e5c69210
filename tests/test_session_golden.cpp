// The whole pipeline through Session (chat template, tokenizer, image preprocessing,
// vision tower, M-RoPE positions, KV cache across turns) against the HF goldens.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/mmap_file.h"
#include "core/npy.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace edgevl;
using edgevl_test::fixture;
using json = nlohmann::json;

namespace {

std::shared_ptr<const Model> load_model(const std::string& name) {
  static std::map<std::string, std::shared_ptr<const Model>> cache;
  auto& m = cache[name];
  if (!m) {
    ModelLoadParams p;
    p.path = fixture(name);
    m = Model::load(p);
  }
  return m;
}

json manifest(const std::string& model) { return json::parse(read_text_file(fixture(model + "/golden/manifest.json"))); }

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

float logit_diff(const std::vector<float>& got, const std::string& path) {
  auto ref = load_npy(path).as_f32();
  EXPECT_EQ(got.size(), ref.size());
  return edgevl_test::max_abs_diff(got, ref) / edgevl_test::max_abs(ref);
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

struct Case {
  std::string model, name, image;
  int fixed_size;
};

class SessionGolden : public ::testing::TestWithParam<Case> {};

}  // namespace

TEST(SessionGoldenText, TextOnlyMatchesReference) {
  REQUIRE_FIXTURES();
  for (std::string model : {"tiny-qwen2-vl", "tiny-qwen2.5-vl"}) {
    SCOPED_TRACE(model);
    const std::string g = fixture(model + "/golden/");
    json m = manifest(model);
    SessionParams sp;
    sp.n_threads = 2;
    Session s(load_model(model), sp);
    Message msg = message_from_tagged_text("user", "Hello! Tell me a short story about 3 dragons and a 中文 poem.", {});
    s.chat(msg, GenerationParams{}, nullptr, prefill_only());
    EXPECT_EQ(s.history(), npy_ids(g + "text_only.input_ids.npy"));
    expect_positions(s, g + "text_only.position_ids.npy");
    EXPECT_LE(logit_diff(s.last_logits(), g + "text_only.last_logits.npy"), 1e-4f);
    Session s2(load_model(model), sp);
    TurnResult r = s2.chat(msg, greedy16(), nullptr);
    EXPECT_EQ(r.tokens, m["cases"]["text_only"]["greedy_ids"].get<std::vector<int32_t>>());
    EXPECT_EQ(r.finish, FinishReason::Length);
  }
}

TEST_P(SessionGolden, TwoTurnsAboutAnImage) {
  REQUIRE_FIXTURES();
  const Case& c = GetParam();
  const std::string g = fixture(c.model + "/golden/");
  json mc = manifest(c.model)["cases"][c.name];
  auto img = std::make_shared<ImageU8>(decode_image_file(fixture("images/" + c.image)));
  SessionParams sp;
  sp.n_threads = 2;
  sp.fixed_size = c.fixed_size;
  sp.max_context = 2048;
  // Turn 1, prefill only: ids, positions, logits.
  Session probe(load_model(c.model), sp);
  Message m1 = message_from_tagged_text("user", "<image>Describe this image.", {img});
  TurnResult p1 = probe.chat(m1, GenerationParams{}, nullptr, prefill_only());
  EXPECT_EQ(p1.stats.image_tokens, mc["n_image_tokens"].get<int64_t>());
  ASSERT_EQ(probe.history(), npy_ids(g + c.name + ".turn1.input_ids.npy"));
  expect_positions(probe, g + c.name + ".turn1.position_ids.npy");
  const float d1 = logit_diff(probe.last_logits(), g + c.name + ".turn1.last_logits.npy");
  EXPECT_LE(d1, 1e-4f);
  // The conversation: 16 greedy tokens, then the follow-up on the kept KV cache.
  Session s(load_model(c.model), sp);
  TurnResult r1 = s.chat(m1, greedy16(), nullptr);
  EXPECT_EQ(r1.tokens, mc["turn1"]["greedy_ids"].get<std::vector<int32_t>>());
  Message m2 = message_from_tagged_text("user", "What color is it?", {});
  TurnResult probe2 = s.chat(m2, GenerationParams{}, nullptr, prefill_only());
  EXPECT_EQ(probe2.stats.prompt_tokens, 1 + int64_t(mc["turn2"]["appended_suffix_ids"].size()));  // only what is new
  ASSERT_EQ(s.history(), npy_ids(g + c.name + ".turn2.input_ids.npy"));
  expect_positions(s, g + c.name + ".turn2.position_ids.npy");
  const float d2 = logit_diff(s.last_logits(), g + c.name + ".turn2.last_logits.npy");
  EXPECT_LE(d2, 1e-4f);
  std::printf("  %s %s: turn1 max|dlogit|/max|logit| = %.2g, turn2 = %.2g\n", c.model.c_str(), c.name.c_str(), d1, d2);
  // Greedy turn 2 from a fresh conversation (the probe above consumed the turn).
  Session s2(load_model(c.model), sp);
  s2.chat(m1, greedy16(), nullptr);
  TurnResult r2 = s2.chat(m2, greedy16(), nullptr);
  EXPECT_EQ(r2.tokens, mc["turn2"]["greedy_ids"].get<std::vector<int32_t>>());
}

INSTANTIATE_TEST_SUITE_P(AllCases, SessionGolden,
                         ::testing::Values(Case{"tiny-qwen2-vl", "demo_sq392", "demo_sq392.png", 0},
                                           Case{"tiny-qwen2-vl", "tall_sq392", "tall_sq392.png", 0},
                                           Case{"tiny-qwen2-vl", "demo_native", "demo.png", 0},
                                           Case{"tiny-qwen2-vl", "tall_native", "tall.png", 0},
                                           Case{"tiny-qwen2.5-vl", "demo_sq392", "demo_sq392.png", 0},
                                           Case{"tiny-qwen2.5-vl", "tall_sq392", "tall_sq392.png", 0},
                                           Case{"tiny-qwen2.5-vl", "demo_native", "demo.png", 0},
                                           Case{"tiny-qwen2.5-vl", "tall_native", "tall.png", 0},
                                           // The on-device convention from the original image.
                                           Case{"tiny-qwen2-vl", "demo_sq392", "demo.png", 392},
                                           Case{"tiny-qwen2.5-vl", "tall_sq392", "tall.png", 392}),
                         [](const auto& info) {
                           std::string n = (info.param.model == "tiny-qwen2-vl" ? "Qwen2VL_" : "Qwen25VL_") + info.param.name;
                           return info.param.fixed_size ? n + "_fixed" + std::to_string(info.param.fixed_size) : n;
                         });

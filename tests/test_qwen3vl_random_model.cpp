// make-model's qwen3-vl-2b preset: the real Qwen3-VL-2B-Instruct shapes, written in
// llama.cpp's Qwen3-VL layout and read back by edgevl (config, tensor shapes and types, a
// vision encode with DeepStack features and a decoder step with them).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "core/thread_pool.h"
#include "formats/gguf_names.h"
#include "formats/random_model.h"
#include "llm/qwen2_decoder.h"
#include "test_util.h"
#include "vision/vision_encoder.h"

using namespace edgevl;

TEST(Qwen3VLRandomModel, PresetShapesRoundTripThroughGguf) {
  ModelConfig cfg = random_model_preset("qwen3-vl-2b");
  EXPECT_EQ(cfg.text.head_dim, 128);
  EXPECT_EQ(cfg.vision.deepstack_visual_indexes, (std::vector<int>{5, 11, 17}));
  cfg.text.vocab_size = 512;  // keep the file small; every other shape is the real one
  cfg.vision.deepstack_visual_indexes = {0, 1};
  RandomModelOptions opt;
  opt.text_type = DType::Q8_0;
  opt.vision_type = DType::Q8_0;
  opt.text_layers = 2;
  opt.vision_layers = 2;
  opt.seed = 3;
  opt.n_threads = 2;
  const std::string dir = edgevl_test::temp_dir(), t = dir + "/rq3.gguf", m = dir + "/rq3-mmproj.gguf";
  write_random_model(cfg, opt, t, m);
  GgufModelSource src(t, m);
  const ModelConfig c = src.config();
  EXPECT_EQ(c.architecture, "Qwen3VLForConditionalGeneration");
  EXPECT_EQ(c.vision.arch, VisionArch::Qwen3VL);
  EXPECT_TRUE(c.text.qk_norm);
  EXPECT_FALSE(c.text.attention_bias);
  EXPECT_TRUE(c.text.mrope_interleaved);
  EXPECT_EQ(c.text.mrope_section, (std::array<int, 3>{24, 20, 20}));
  EXPECT_EQ(c.text.head_dim, 128);
  EXPECT_EQ(c.text.num_kv_heads, 8);
  EXPECT_EQ(c.vision.num_position_embeddings, 2304);
  EXPECT_EQ(c.vision.deepstack_visual_indexes, (std::vector<int>{0, 1}));
  EXPECT_EQ(c.vision.mlp_hidden, 4096);
  EXPECT_EQ(src.find("visual.pos_embed.weight")->dtype, DType::F32);  // kept f32 as llama.cpp does
  EXPECT_EQ(src.find("visual.deepstack_merger_list.1.linear_fc2.weight")->shape, (std::vector<int64_t>{2048, 4096}));
  Qwen2Decoder dec(c.text, src);
  auto vis = VisionEncoder::create(c, src);
  ThreadPool pool(2);
  std::vector<float> px(16 * 1536);  // a 4x4-patch image: 4 merged tokens
  for (size_t i = 0; i < px.size(); ++i) px[i] = std::sin(0.01f * float(i));
  std::vector<std::vector<float>> ds;
  const std::vector<float> emb = vis->encode(px.data(), 1, 4, 4, pool, Cancel(), &ds);
  ASSERT_EQ(emb.size(), size_t(4 * 2048));
  ASSERT_EQ(ds.size(), 2u);
  for (const auto& f : ds) {
    ASSERT_EQ(f.size(), emb.size());
    for (float v : f) ASSERT_TRUE(std::isfinite(v));
  }
  std::vector<KvCell> cells(4);
  for (int i = 0; i < 4; ++i) cells[i].pos = {0, i / 2, i % 2};
  KvCache cache = dec.make_cache(8);
  std::vector<float> logits(512);
  dec.forward(emb.data(), 4, cells.data(), cache, pool, logits.data(), nullptr, Cancel(), {{0, 4, 0, &ds}});
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));
  std::remove(t.c_str());
  std::remove(m.c_str());
}

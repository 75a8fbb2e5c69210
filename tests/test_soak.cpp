// 200 turns with a new image every few turns on a bounded context (oldest turns
// evicted): resident memory must stay flat after warm-up (rknn-llm #529, llama.cpp
// #27725 report growth per image).
#include <gtest/gtest.h>

#include <cstdio>

#include "core/timer.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace edgevl;

TEST(Soak, TwoHundredTurnsWithImagesKeepRssFlat) {
  REQUIRE_FIXTURES();
  ModelLoadParams mp;
  mp.path = edgevl_test::fixture("tiny-qwen2-vl");
  auto model = Model::load(mp);
  SessionParams sp;
  sp.n_threads = 2;
  sp.max_context = 1024;
  sp.overflow = OverflowPolicy::DropOldest;
  sp.fixed_size = 392;
  sp.image_cache_entries = 2;
  sp.generation.max_new_tokens = 4;
  sp.generation.ignore_eos = true;
  Session s(model, sp);
  auto base = std::make_shared<ImageU8>(decode_image_file(edgevl_test::fixture("images/demo.png")));
  int64_t rss_warm = 0, rss_peak_after = 0;
  int evicted = 0;
  for (int turn = 0; turn < 200; ++turn) {
    std::vector<std::shared_ptr<const ImageU8>> imgs;
    std::string text = "Turn " + std::to_string(turn) + ": what changed?";
    if (turn % 4 == 0) {
      // A new image each time (a different pixel), so the embedding cache cannot help.
      auto img = std::make_shared<ImageU8>(*base);
      img->rgb[turn % img->rgb.size()] ^= 0x5a;
      img->rgb[(turn * 7919) % img->rgb.size()] ^= 0x33;
      imgs.push_back(img);
      text = "<image>" + text;
    }
    TurnResult r = s.chat(message_from_tagged_text("user", text, imgs));
    ASSERT_EQ(r.tokens.size(), 4u) << "turn " << turn;
    evicted += r.stats.turns_evicted;
    if (turn == 49) rss_warm = current_rss_bytes();
    if (turn >= 49) rss_peak_after = std::max(rss_peak_after, current_rss_bytes());
  }
  EXPECT_EQ(s.images_encoded_total(), 50);
  EXPECT_GT(evicted, 0);
  const double growth_mb = (rss_peak_after - rss_warm) / 1048576.0;
  std::printf("  soak: RSS after 50 turns %.1f MB, max over turns 50-200 %.1f MB (growth %.2f MB), %d turns evicted, %d images encoded\n",
              rss_warm / 1048576.0, rss_peak_after / 1048576.0, growth_mb, evicted, s.images_encoded_total());
  EXPECT_LT(growth_mb, 8.0);
}

// Dialogue behaviour of Session beyond the goldens: history reuse never changes the
// answer, images are encoded once, bad input leaves the conversation as it was.
#include <gtest/gtest.h>

#include "core/error.h"
#include "runtime/session.h"
#include "fixture_model.h"
#include "test_util.h"

using namespace edgevl;
using edgevl_test::fixture;

namespace {

std::shared_ptr<const Model> tiny() { return edgevl_test::fixture_model("tiny-qwen2.5-vl"); }

SessionParams params() {
  SessionParams sp;
  sp.n_threads = 2;
  sp.fixed_size = 392;
  sp.max_context = 2048;
  sp.generation.max_new_tokens = 8;
  sp.generation.ignore_eos = true;
  return sp;
}

std::shared_ptr<const ImageU8> image(const char* name) { return std::make_shared<ImageU8>(decode_image_file(fixture(std::string("images/") + name))); }

}  // namespace

TEST(Session, SecondImageInLaterTurnEqualsFreshRecompute) {
  REQUIRE_FIXTURES();
  Session s(tiny(), params());
  s.chat(message_from_tagged_text("user", "<image>Describe this image.", {image("demo.png")}));
  // Turn 2 brings image B; prefill only, to look at its logits.
  TurnOptions prefill;
  prefill.generate = false;
  s.chat(message_from_tagged_text("user", "<image>And this one?", {image("tall.png")}), params().generation, nullptr, prefill);
  const std::vector<float> incremental = s.last_logits();
  // A fresh session given the same full history computes it in one prefill.
  const std::string path = edgevl_test::temp_dir() + "/two_images.session";
  s.save(path);
  Session fresh(tiny(), params());
  fresh.load(path);
  EXPECT_EQ(fresh.history(), s.history());
  const float d = edgevl_test::max_abs_diff(incremental, fresh.last_logits()) / edgevl_test::max_abs(incremental);
  EXPECT_LE(d, 1e-5f) << "incremental vs fresh recompute";
  // Both continue with the same greedy tokens, and image B's block has its own positions.
  TurnResult a = s.chat(message_from_tagged_text("user", "Compare them.", {}));
  TurnResult b = fresh.chat(message_from_tagged_text("user", "Compare them.", {}));
  EXPECT_EQ(a.tokens, b.tokens);
  const auto& cells = s.positions();
  int blocks = 0;
  for (size_t i = 1; i < cells.size(); ++i)
    if (cells[i].source == CellSource::Image && cells[i - 1].source == CellSource::Text) {
      ++blocks;
      EXPECT_EQ(cells[i].pos[0], cells[i - 1].pos[0] + 1);  // grid starts right after <|vision_start|>
    }
  EXPECT_EQ(blocks, 2);
}

TEST(Session, ImageEmbeddingCacheHitsOnRepeatedImage) {
  REQUIRE_FIXTURES();
  Session s(tiny(), params());
  auto a = image("demo.png");
  TurnResult r1 = s.chat(message_from_tagged_text("user", "<image>What is it?", {a}));
  EXPECT_EQ(r1.stats.images_encoded, 1);
  // The same pixels from a different buffer: found by content.
  TurnResult r2 = s.chat(message_from_tagged_text("user", "<image>Again?", {image("demo.png")}));
  EXPECT_EQ(r2.stats.images, 1);
  EXPECT_EQ(r2.stats.images_encoded, 0);
  EXPECT_EQ(s.images_encoded_total(), 1);
  s.chat(message_from_tagged_text("user", "<image>And this?", {image("tall.png")}));
  EXPECT_EQ(s.images_encoded_total(), 2);
}

TEST(Session, TagWithoutImageIsRefusedAndSessionStaysUsable) {
  REQUIRE_FIXTURES();
  Session s(tiny(), params());
  s.chat(message_from_tagged_text("user", "Hello", {}));
  const auto before = s.history();
  try {
    s.chat(message_from_tagged_text("user", "<image>What is this?", {}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("no image is loaded"), std::string::npos);
  }
  Message bad;
  ContentPart p;
  p.text = "caf\xc3";
  bad.parts.push_back(p);
  EXPECT_THROW(s.chat(bad), Error);
  EXPECT_EQ(s.history(), before);
  TurnResult r = s.chat(message_from_tagged_text("user", "Still there?", {}));
  EXPECT_EQ(r.tokens.size(), 8u);
}

TEST(Session, CorruptImageBytesAreRefused) {
  std::vector<uint8_t> junk(1000, 0x42);
  EXPECT_THROW(decode_image_bytes(junk.data(), junk.size(), "junk.bin"), Error);
  REQUIRE_FIXTURES();
  ImageLimits tiny_limit;
  tiny_limit.max_pixels = 1000;
  try {
    decode_image_file(fixture("images/demo.png"), tiny_limit);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("demo.png"), std::string::npos) << e.what();
  }
}

TEST(Session, ReplyHistoryIsIdsAppendAndClosedByTemplate) {
  REQUIRE_FIXTURES();
  Session s(tiny(), params());
  TurnResult r = s.chat(message_from_tagged_text("user", "Hi", {}));
  // History ends with the generated ids, then "<|im_end|>\n" written by the runtime.
  const auto& h = s.history();
  ASSERT_GE(h.size(), r.tokens.size() + 2);
  EXPECT_EQ(h[h.size() - 2], s.model().tokenizer().special_id("<|im_end|>"));
  EXPECT_EQ(std::vector<int32_t>(h.end() - 2 - r.tokens.size(), h.end() - 2), r.tokens);
  EXPECT_EQ(s.turn_count(), 1);
}

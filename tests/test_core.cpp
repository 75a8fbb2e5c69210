#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "core/mmap_file.h"
#include "core/npy.h"
#include "core/thread_pool.h"
#include "test_util.h"

using namespace edgevl;

TEST(Fp16, Bf16RoundTripAndRounding) {
  for (float f : {0.0f, 1.0f, -2.5f, 3.1415926f, 1e-20f, 65504.0f}) {
    float r = bf16_to_f32(f32_to_bf16(f));
    EXPECT_NEAR(r, f, std::fabs(f) / 128 + 1e-30f);
  }
  // 1 + 2^-8 is exactly halfway between two bf16 values: ties go to even (1.0).
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 1.0f / 256)), 1.0f);
}

TEST(Fp16, F16ExhaustiveRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    uint16_t v = static_cast<uint16_t>(h);
    bool nan = ((v >> 10) & 0x1f) == 0x1f && (v & 0x3ff);
    if (nan) continue;
    ASSERT_EQ(f32_to_f16(f16_to_f32(v)), v) << h;
  }
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f32_to_f16(1e6f), 0x7c00);  // overflow to +inf
}

TEST(ThreadPool, EveryIndexRunsOnce) {
  ThreadPool pool(3);
  for (int rep = 0; rep < 100; ++rep) {
    std::atomic<int> mask{0};
    pool.run([&](int i, int n) {
      EXPECT_EQ(n, 3);
      mask.fetch_or(1 << i);
    });
    ASSERT_EQ(mask.load(), 7);
  }
  std::vector<int> hit(1001, 0);
  pool.parallel_for(1001, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) hit[i]++;
  });
  for (int v : hit) ASSERT_EQ(v, 1);
}

TEST(MappedFile, MissingFileNamesPath) {
  try {
    MappedFile f("/nonexistent/edgevl.bin");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/edgevl.bin"), std::string::npos);
  }
}

TEST(Npy, SaveLoadRoundTripAndBadMagic) {
  std::string p = edgevl_test::temp_dir() + "/a.npy";
  std::vector<float> v = {1, 2, 3, 4, 5, 6};
  save_npy_f32(p, v.data(), {2, 3});
  NpyArray a = load_npy(p);
  EXPECT_EQ(a.dtype, "<f4");
  ASSERT_EQ(a.shape.size(), 2u);
  EXPECT_EQ(a.shape[0], 2);
  EXPECT_EQ(a.shape[1], 3);
  EXPECT_EQ(a.as_f32(), v);
  std::string bad = edgevl_test::temp_dir() + "/bad.npy";
  write_file_atomic(bad, "hello world", 11);
  EXPECT_THROW(load_npy(bad), Error);
}

TEST(Npy, ReadsGoldenFixture) {
  REQUIRE_FIXTURES();
  NpyArray a = load_npy(edgevl_test::fixture("tiny-qwen2-vl/golden/text_only.input_ids.npy"));
  EXPECT_EQ(a.dtype, "<i8");
  ASSERT_EQ(a.shape.size(), 1u);
  EXPECT_GT(a.shape[0], 10);
}

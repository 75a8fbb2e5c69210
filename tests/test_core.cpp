#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
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

TEST(ThreadPool, ShareRunsEveryIndexOfItsThreadCountOnce) {
  ThreadPool pool(3);
  for (int rep = 0; rep < 100; ++rep) {
    std::atomic<int> mask{0}, count{0};
    std::atomic<int> threads{0};
    pool.share([&](int i, int n) {
      threads = n;
      mask.fetch_or(1 << i);
      ++count;
    });
    ASSERT_TRUE(threads == 3 || threads == 1) << threads;
    ASSERT_EQ(mask.load(), (1 << threads) - 1);
    ASSERT_EQ(count.load(), threads.load());
  }
}

// A worker that is late in every job (as when another process holds its core) makes
// share() run jobs on the caller alone; after the solo period the workers are tried again.
TEST(ThreadPool, ShareGoesSoloWhileAWorkerIsLateThenProbesAgain) {
  const char* fixed = std::getenv("EDGEVL_POOL_FIXED");
  if (fixed && std::string(fixed) == "1") GTEST_SKIP() << "EDGEVL_POOL_FIXED=1 turns contention handling off";
  ThreadPool pool(2);
  std::atomic<bool> slow{true};
  int solo_calls = 0;
  for (int j = 0; j < 20; ++j)
    pool.share([&](int i, int n) {
      if (n == 1) ++solo_calls;
      if (i == 1 && slow) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    });
  // Three late jobs start a 20 ms solo period; the remaining 17 take microseconds.
  EXPECT_GE(pool.solo_jobs(), 10);
  EXPECT_EQ(solo_calls, pool.solo_jobs());
  slow = false;
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  std::atomic<int> widest{0};
  pool.share([&](int, int n) { widest = n; });
  EXPECT_EQ(widest.load(), 2) << "the first job after the solo period probes the workers";
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

// The ops Qwen3-VL added: tanh-approximated GELU (vectorised exp vs the std::tanh
// reference), float32 linspace as torch computes it, and the bilinear position-embedding
// interpolation on hand-checkable tables.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/ops.h"
#include "vision/pos_embed_interp.h"

using namespace edgevl;

TEST(GeluTanh, MatchesReferenceIncludingTailsAndExtremes) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  for (int n : {1, 7, 8, 255, 256, 257, 1001}) {
    std::vector<float> x(n);
    for (float& v : x) v = nd(rng);
    x[0] = -60.0f;  // exp(-2u) overflows: the result must be -0, not NaN
    if (n > 1) x[1] = 40.0f;
    std::vector<float> got = x, ref = x;
    gelu_tanh_inplace(got.data(), n);
    gelu_tanh_reference(ref.data(), n);
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(std::isfinite(got[i])) << "x = " << x[i];
      EXPECT_NEAR(got[i], ref[i], 2e-6f * std::max(1.0f, std::fabs(ref[i]))) << "x = " << x[i] << " n = " << n;
    }
  }
  // Known values of PyTorch's gelu(approximate="tanh").
  float v[3] = {1.0f, -1.0f, 0.5f};
  gelu_tanh_inplace(v, 3);
  EXPECT_NEAR(v[0], 0.8411920f, 1e-6f);
  EXPECT_NEAR(v[1], -0.1588080f, 1e-6f);
  EXPECT_NEAR(v[2], 0.3457140f, 1e-6f);
}

TEST(PosEmbedInterp, LinspaceEndsExactAndSymmetric) {
  const std::vector<float> a = linspace_f32(0.0f, 15.0f, 22);
  ASSERT_EQ(a.size(), 22u);
  EXPECT_EQ(a.front(), 0.0f);
  EXPECT_EQ(a.back(), 15.0f);
  for (size_t i = 1; i < a.size(); ++i) EXPECT_GT(a[i], a[i - 1]);
  EXPECT_EQ(linspace_f32(0.0f, 15.0f, 1), std::vector<float>{0.0f});
}

TEST(PosEmbedInterp, SameGridIsTheTableInBlockOrder) {
  // A 4x4 table of dim 1 holding its own index, resized to 4x4: the values come back in
  // 2x2-block order.
  std::vector<float> table(16);
  for (int i = 0; i < 16; ++i) table[i] = float(i);
  const std::vector<float> out = interpolate_pos_embed(table.data(), 4, 1, 1, 4, 4, 2);
  const std::vector<float> want = {0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15};
  EXPECT_EQ(out, want);
}

TEST(PosEmbedInterp, BilinearBetweenGridPoints) {
  // A 2x2 table (dim 1) resized to 2x4: columns at 0, 1/3, 2/3, 1; rows at the grid rows.
  const float table[4] = {0.0f, 3.0f, 6.0f, 9.0f};
  const std::vector<float> out = interpolate_pos_embed(table, 2, 1, 2, 2, 4, 2);
  ASSERT_EQ(out.size(), 16u);  // two frames, the second a copy
  // Block (0,0): (r0,c0) (r0,c1) (r1,c0) (r1,c1) = 0, 1, 6, 7.
  EXPECT_NEAR(out[0], 0.0f, 1e-6f);
  EXPECT_NEAR(out[1], 1.0f, 1e-6f);
  EXPECT_NEAR(out[2], 6.0f, 1e-6f);
  EXPECT_NEAR(out[3], 7.0f, 1e-6f);
  EXPECT_NEAR(out[4], 2.0f, 1e-6f);  // block (0,1): c2, c3
  EXPECT_NEAR(out[5], 3.0f, 1e-6f);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(out[8 + i], out[i]);
}

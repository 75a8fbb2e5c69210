// Checks of one quant dot table's Q8_0 / Q4_0 kernels (kernels/qdot.h) against the scalar
// table, shared by the native tables' tests and the emulated AVX-512 ones.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/fp16.h"
#include "kernels/qdot.h"
#include "kernels/quant.h"
#include "kernel_test_util.h"

namespace edgevl_test {

// Row dot, x4 and 2x4 tiles on block counts with every tail (1, 2, 3, 5, 37, 48 blocks).
inline void expect_qdot_matches_scalar(const edgevl::QDotTable& t) {
  using namespace edgevl;
  const QDotTable ref = qdot_table_scalar();
  for (DType type : {DType::Q8_0, DType::Q4_0}) {
    for (int64_t nb : {1, 2, 3, 5, 6, 7, 37, 48}) {
      const int64_t k = nb * 32;
      auto w = randn(2 * k, 7 + nb, 0.5f);
      auto x = randn(4 * k, 9 + nb);
      auto wq = quantize_weights(type, w, 2, k);
      const int64_t wrow = static_cast<int64_t>(wq.size() / 2);
      std::vector<int8_t> q(4 * k);
      const int64_t ds = 2 * nb;  // per row: scales, then scale·sum
      std::vector<float> d(4 * ds);
      for (int r = 0; r < 4; ++r) quantize_act_reference(x.data() + r * k, q.data() + r * k, d.data() + r * ds, k);
      // Tolerance: float rounding of a sum of nb block terms.
      double mag = 0;
      for (int64_t i = 0; i < k; ++i) mag += std::fabs(w[i] * x[i]);
      const float tol = static_cast<float>(1e-5 * mag + 1e-6);
      QDotFn one = type == DType::Q8_0 ? t.q8_0 : t.q4_0;
      QDotFn one_ref = type == DType::Q8_0 ? ref.q8_0 : ref.q4_0;
      QDot4Fn four = type == DType::Q8_0 ? t.q8_0_x4 : t.q4_0_x4;
      float out[4];
      four(wq.data(), q.data(), k, d.data(), ds, nb, out);
      for (int r = 0; r < 4; ++r) {
        const float e = one_ref(wq.data(), q.data() + r * k, d.data() + r * ds, nb);
        EXPECT_NEAR(one(wq.data(), q.data() + r * k, d.data() + r * ds, nb), e, tol) << t.name << " " << dtype_name(type) << " nb=" << nb;
        EXPECT_NEAR(out[r], e, tol) << t.name << " x4 row " << r << " " << dtype_name(type) << " nb=" << nb;
        // The second weight row too, so a kernel that reads past its own row shows.
        const float e1 = one_ref(wq.data() + wrow, q.data() + r * k, d.data() + r * ds, nb);
        EXPECT_NEAR(one(wq.data() + wrow, q.data() + r * k, d.data() + r * ds, nb), e1, tol) << t.name << " row 1 nb=" << nb;
      }
      // The 2x4 register tile: weight row 1 is a different row, so a mix-up shows.
      QDot2x4Fn tile = type == DType::Q8_0 ? t.q8_0_2x4 : t.q4_0_2x4;
      ASSERT_NE(tile, nullptr) << t.name;
      float out8[8];
      tile(wq.data(), wrow, q.data(), k, d.data(), ds, nb, out8);
      for (int i = 0; i < 2; ++i)
        for (int r = 0; r < 4; ++r) {
          const float e = one_ref(wq.data() + i * wrow, q.data() + r * k, d.data() + r * ds, nb);
          EXPECT_NEAR(out8[i * 4 + r], e, tol * 2) << t.name << " 2x4 w" << i << " a" << r << " " << dtype_name(type) << " nb=" << nb;
        }
    }
  }
}

// Q8_0 weights of -128 (possible in foreign files) and activations of ±127 in every lane: the
// maddubs pair sums reach their maximum (2·128·127), |w| = 128 is vpdpbusd's largest unsigned
// operand; nothing may saturate.
inline void expect_qdot_exact_on_extremes(const edgevl::QDotTable& t) {
  using namespace edgevl;
  for (int64_t nb : {3, 4}) {
    const int64_t k = nb * 32;
    std::vector<uint8_t> w(nb * sizeof(BlockQ8_0));
    for (int64_t b = 0; b < nb; ++b) {
      BlockQ8_0 blk;
      blk.d = f32_to_f16(0.0625f);  // exact in f16
      for (int j = 0; j < 32; ++j) blk.qs[j] = static_cast<int8_t>(j % 2 ? -128 : 127);
      std::memcpy(w.data() + b * sizeof blk, &blk, sizeof blk);
    }
    std::vector<int8_t> q(k);
    for (int64_t i = 0; i < k; ++i) q[i] = static_cast<int8_t>(i % 2 ? -127 : 127);
    std::vector<float> d(2 * nb, 0.5f);  // (the sums half is unused by Q8_0)
    const float e = qdot_table_scalar().q8_0(w.data(), q.data(), d.data(), nb);
    EXPECT_NEAR(e, 0.0625f * 0.5f * (16 * 127 * 127 + 16 * 128 * 127) * nb, 1.0f);
    EXPECT_NEAR(t.q8_0(w.data(), q.data(), d.data(), nb), e, std::fabs(e) * 1e-5f) << t.name;
    float out[4];
    t.q8_0_x4(w.data(), q.data(), 0, d.data(), 0, nb, out);
    for (float o : out) EXPECT_NEAR(o, e, std::fabs(e) * 1e-5f) << t.name;
    if (t.q8_0_2x4) {
      float out8[8];
      t.q8_0_2x4(w.data(), 0, q.data(), 0, d.data(), 0, nb, out8);
      for (float o : out8) EXPECT_NEAR(o, e, std::fabs(e) * 1e-5f) << t.name << " 2x4";
    }
  }
}

}  // namespace edgevl_test

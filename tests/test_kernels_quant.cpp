// Integer-dot kernels for Q8_0 / Q4_0 weights: every variant the CPU can run against the
// scalar reference, on odd shapes (1 block, odd block counts, tails of the 4-row blocking).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/membw.h"
#include "kernels/qdot.h"
#include "kernels/quant.h"
#include "kernel_test_util.h"
#include "test_util.h"

using namespace edgevl;
using edgevl_test::randn;
using edgevl_test::quantize_weights;
using edgevl_test::view;

namespace {

}  // namespace

TEST(Quant, EveryActivationQuantizerMatchesReferenceBytes) {
  for (int64_t k : {32, 64, 96, 1184}) {
    auto x = randn(k, 40 + k, 3.0f);
    for (int j = 0; j < 32; ++j) x[j] = 0.0f;                    // an all-zero block
    if (k >= 64) x[40] = 1e-30f, x[41] = -1e30f;                 // extreme magnitudes
    if (k >= 96) x[70] = 2.5f, x[71] = -2.5f, x[72] = 0.5f;      // ties at .5 after scaling are possible
    std::vector<int8_t> qr(k);
    std::vector<float> dr(2 * (k / 32));
    quantize_act_reference(x.data(), qr.data(), dr.data(), k);
    EXPECT_EQ(dr[0], 0.0f);
    for (const auto& t : qdot_tables_available()) {
      std::vector<int8_t> q(k, 99);
      std::vector<float> d(2 * (k / 32), -1.0f);
      t.quantize(x.data(), q.data(), d.data(), k);
      EXPECT_EQ(q, qr) << t.name << " k=" << k;
      EXPECT_EQ(d, dr) << t.name << " k=" << k;
    }
  }
  // Rounding is to nearest, with |q| <= 127 and the largest magnitude mapped to ±127.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = (j - 16) * 0.37f;
  std::vector<int8_t> q(32);
  float ds[2];
  quantize_act_reference(x.data(), q.data(), ds, 32);
  const float d = ds[0];
  int sum = 0;
  for (int j = 0; j < 32; ++j) sum += q[j];
  EXPECT_EQ(ds[1], d * static_cast<float>(sum));
  EXPECT_EQ(q[0], -127);
  for (int j = 0; j < 32; ++j) EXPECT_LE(std::fabs(q[j] * d - x[j]), d * 0.5f + 1e-6f);
}

TEST(Dot, EveryQuantTableMatchesScalar) {
  const QDotTable ref = qdot_table_scalar();
  std::string names;
  for (const auto& t : qdot_tables_available()) names += std::string(" ") + t.name;
  std::printf("[ tables   ] quant dot tables on this CPU:%s (best: %s)\n", names.c_str(), qdot_table_best().name);
  for (DType type : {DType::Q8_0, DType::Q4_0}) {
    for (int64_t nb : {1, 2, 3, 5, 37, 48}) {
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
      for (const auto& t : qdot_tables_available()) {
        QDotFn one = type == DType::Q8_0 ? t.q8_0 : t.q4_0;
        QDotFn one_ref = type == DType::Q8_0 ? ref.q8_0 : ref.q4_0;
        QDot4Fn four = type == DType::Q8_0 ? t.q8_0_x4 : t.q4_0_x4;
        float out[4];
        four(wq.data(), q.data(), k, d.data(), ds, nb, out);
        for (int r = 0; r < 4; ++r) {
          const float e = one_ref(wq.data(), q.data() + r * k, d.data() + r * ds, nb);
          EXPECT_NEAR(one(wq.data(), q.data() + r * k, d.data() + r * ds, nb), e, tol) << t.name << " " << dtype_name(type) << " nb=" << nb;
          EXPECT_NEAR(out[r], e, tol) << t.name << " x4 row " << r << " " << dtype_name(type) << " nb=" << nb;
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
}

TEST(Dot, QuantDotSaturationEdgeCases) {
  // Weights of -128 (possible in foreign Q8_0 files) and activations of ±127 in every lane:
  // the maddubs pair sums are at their maximum (2·128·127) and must not saturate.
  const int64_t nb = 3, k = nb * 32;
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
  for (const auto& t : qdot_tables_available()) {
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

TEST(Matmul, QuantMatchesQuantReferenceOnOddShapes) {
  ThreadPool pool(2);
  for (DType type : {DType::Q8_0, DType::Q4_0}) {
    for (auto [M, N, K] : std::vector<std::array<int64_t, 3>>{
             {1, 1, 32}, {1, 33, 96}, {3, 7, 160}, {4, 17, 32}, {5, 16, 64}, {9, 35, 1184}, {17, 3, 96}}) {
      auto x = randn(M * K, 11 + M);
      auto w = randn(N * K, 13 + N, 0.2f);
      auto bias = randn(N, 17);
      auto wq = quantize_weights(type, w, N, K);
      WeightMatrix W = view(type, wq, N, K);
      std::vector<float> y(M * N), yq(M * N);
      matmul(x.data(), M, W, bias.data(), y.data(), pool);
      matmul_quant_reference(x.data(), M, W, bias.data(), yq.data());
      const float tol = 1e-5f * std::sqrt(static_cast<float>(K)) * 4;
      ASSERT_LE(edgevl_test::max_abs_diff(y, yq), tol) << dtype_name(type) << " M=" << M << " N=" << N << " K=" << K;
      // Without bias, single thread: the same.
      ThreadPool one(1);
      std::vector<float> y1(M * N), yq1(M * N);
      matmul(x.data(), M, W, nullptr, y1.data(), one);
      matmul_quant_reference(x.data(), M, W, nullptr, yq1.data());
      ASSERT_LE(edgevl_test::max_abs_diff(y1, yq1), tol);
    }
  }
}

TEST(Matmul, QuantCloseToFloatMath) {
  // End-to-end accuracy on a realistic layer: relative RMS error of Q8_0 (weights and
  // activations quantized) against f32 math on the original weights.
  ThreadPool pool(2);
  const int64_t M = 3, N = 64, K = 1536;
  auto x = randn(M * K, 3);
  auto w = randn(N * K, 4, 0.02f);
  for (DType type : {DType::Q8_0, DType::Q4_0}) {
    auto wq = quantize_weights(type, w, N, K);
    WeightMatrix W = view(type, wq, N, K);
    std::vector<float> y(M * N);
    matmul(x.data(), M, W, nullptr, y.data(), pool);
    double err = 0, ref = 0;
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double e = 0;
        for (int64_t k = 0; k < K; ++k) e += static_cast<double>(x[m * K + k]) * w[n * K + k];
        err += (y[m * N + n] - e) * (y[m * N + n] - e);
        ref += e * e;
      }
    const double rel = std::sqrt(err / ref);
    EXPECT_LT(rel, type == DType::Q8_0 ? 0.02 : 0.15) << dtype_name(type);
  }
}

TEST(Matmul, MemoryBandwidthProbeGivesAPlausibleFigure) {
  ThreadPool pool(2);
  const double gbs = measure_read_bandwidth_gbs(pool, size_t(16) << 20, 2);
  EXPECT_GT(gbs, 0.1);
  EXPECT_LT(gbs, 10000.0);
}

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
#include "qdot_checks.h"
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
  std::string names;
  for (const auto& t : qdot_tables_available()) names += std::string(" ") + t.name;
  std::printf("[ tables   ] quant dot tables on this CPU:%s (best: %s)\n", names.c_str(), qdot_table_best().name);
  for (const auto& t : qdot_tables_available()) edgevl_test::expect_qdot_matches_scalar(t);
}

TEST(Dot, QuantDotSaturationEdgeCases) {
  for (const auto& t : qdot_tables_available()) edgevl_test::expect_qdot_exact_on_extremes(t);
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

// The integer prefill GEMM (kernels/qgemm.h): every table the CPU can run, and matmul()'s
// dispatch to it, against matmul_quant_reference (same activation quantization) on odd
// shapes: M not a multiple of the tile, N not a multiple of the 8-row group, one block.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/qdot.h"
#include "kernels/qgemm.h"
#include "kernels/quant.h"
#include "kernel_test_util.h"
#include "test_util.h"

using namespace edgevl;
using edgevl_test::randn;
using edgevl_test::quantize_weights;
using edgevl_test::view;

namespace {

// Float rounding of K-term sums of magnitude ~ |x|·|w|·sqrt(K).
float tolerance(int64_t K) { return 1e-5f * std::sqrt(static_cast<float>(K)) * 4; }

const std::vector<std::array<int64_t, 3>> kShapes = {
    {1, 1, 32}, {2, 9, 64}, {3, 7, 160}, {4, 8, 32}, {5, 17, 96}, {7, 16, 1184}, {16, 15, 64}, {33, 25, 256}, {37, 40, 96}};

}  // namespace

TEST(QGemm, EveryTableMatchesQuantReferenceOnOddShapes) {
  std::string names;
  for (const auto& t : qgemm_tables_available()) names += std::string(" ") + t.name;
  std::printf("[ tables   ] quant GEMM tables on this CPU:%s (best: %s)\n", names.c_str(),
              qgemm_table_best() ? qgemm_table_best()->name : "none");
  ThreadPool pool(2);
  for (DType type : {DType::Q8_0, DType::Q4_0}) {
    for (auto [M, N, K] : kShapes) {
      auto x = randn(M * K, 21 + M);
      auto w = randn(N * K, 23 + N, 0.2f);
      auto bias = randn(N, 29);
      auto wq = quantize_weights(type, w, N, K);
      const WeightMatrix W = view(type, wq, N, K);
      std::vector<float> ref(M * N), ref_nb(M * N);
      matmul_quant_reference(x.data(), M, W, bias.data(), ref.data());
      matmul_quant_reference(x.data(), M, W, nullptr, ref_nb.data());
      for (const auto& t : qgemm_tables_available()) {
        const QGemmKernels k = t.for_type(type);
        ASSERT_NE(k.panel, nullptr) << t.name;
        std::vector<float> y(M * N, NAN), y1(M * N, NAN);
        matmul_qgemm(k, quantize_act_reference, x.data(), M, W, bias.data(), y.data(), &pool);
        matmul_qgemm(k, quantize_act_reference, x.data(), M, W, nullptr, y1.data(), nullptr);
        const std::string what = std::string(t.name) + " " + dtype_name(type) + " M=" + std::to_string(M) + " N=" +
                                 std::to_string(N) + " K=" + std::to_string(K);
        EXPECT_LE(edgevl_test::max_abs_diff(y, ref), tolerance(K)) << what;
        EXPECT_LE(edgevl_test::max_abs_diff(y1, ref_nb), tolerance(K)) << what << " (no bias, one thread)";
      }
    }
  }
}

TEST(QGemm, MatmulDispatchMatchesQuantReferenceForLongPrefills) {
  // matmul() sends M >= 32 rows here where the CPU has a GEMM table; either way the result
  // must be the integer algorithm's.
  if (!qgemm_table_best()) GTEST_SKIP() << "no SIMD quant GEMM on this CPU (matmul keeps its other paths)";
  ThreadPool pool(2);
  for (DType type : {DType::Q8_0, DType::Q4_0}) {
    for (auto [M, N, K] : std::vector<std::array<int64_t, 3>>{{32, 9, 64}, {33, 100, 320}, {64, 8, 1536}, {70, 33, 96}}) {
      auto x = randn(M * K, 31 + M);
      auto w = randn(N * K, 37 + N, 0.2f);
      auto bias = randn(N, 41);
      auto wq = quantize_weights(type, w, N, K);
      const WeightMatrix W = view(type, wq, N, K);
      std::vector<float> y(M * N), ref(M * N);
      matmul(x.data(), M, W, bias.data(), y.data(), pool);
      matmul_quant_reference(x.data(), M, W, bias.data(), ref.data());
      EXPECT_LE(edgevl_test::max_abs_diff(y, ref), tolerance(K)) << dtype_name(type) << " M=" << M << " N=" << N << " K=" << K;
    }
  }
}

TEST(QGemm, SaturationEdgeCases) {
  // Q8_0 weights of -128 (possible in foreign files) against activations of ±127 put the
  // maddubs pair sums at their maximum (2·128·127); Q4_0 nibbles of 15 and 0 against ±127
  // put the int16 block sums at theirs. Nothing may saturate.
  const int64_t M = 6, N = 9, K = 96, nb = K / 32;
  std::vector<float> x(M * K);
  for (int64_t i = 0; i < M * K; ++i) x[i] = i % 2 ? -1.0f : 1.0f;  // ±127 alternating
  for (int64_t k = 0; k < K; ++k) x[K + k] = 1.0f;   // all +127
  for (int64_t k = 0; k < K; ++k) x[2 * K + k] = -1.0f;  // all -127
  for (DType type : {DType::Q8_0, DType::Q4_0}) {
    const size_t rb = dtype_row_bytes(type, K);
    std::vector<uint8_t> wq(rb * N);
    for (int64_t r = 0; r < N; ++r)
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* blk = wq.data() + r * rb + b * (type == DType::Q8_0 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0));
        const uint16_t d = f32_to_f16(0.0625f);
        std::memcpy(blk, &d, 2);
        if (type == DType::Q8_0)
          for (int j = 0; j < 32; ++j) blk[2 + j] = static_cast<uint8_t>(static_cast<int8_t>((j + r) % 2 ? -128 : 127));
        else
          for (int j = 0; j < 16; ++j) blk[2 + j] = r % 3 == 0 ? 0xff : r % 3 == 1 ? 0x00 : 0x0f;
      }
    const WeightMatrix W = view(type, wq, N, K);
    std::vector<float> ref(M * N);
    matmul_quant_reference(x.data(), M, W, nullptr, ref.data());
    ASSERT_GT(edgevl_test::max_abs(ref), 40.0f) << dtype_name(type);  // the extremes were reached
    for (const auto& t : qgemm_tables_available()) {
      std::vector<float> y(M * N, NAN);
      matmul_qgemm(t.for_type(type), quantize_act_reference, x.data(), M, W, nullptr, y.data(), nullptr);
      EXPECT_LE(edgevl_test::max_abs_diff(y, ref), edgevl_test::max_abs(ref) * 1e-6f) << t.name << " " << dtype_name(type);
    }
  }
}

TEST(QGemm, RejectsOtherTypesAndRowLengths) {
  const QGemmTable t = qgemm_table_scalar();
  EXPECT_EQ(t.for_type(DType::F16).panel, nullptr);
  EXPECT_EQ(t.for_type(DType::Q4_K).panel, nullptr);
  std::vector<uint8_t> wq(dtype_row_bytes(DType::Q8_0, 64) * 2);
  WeightMatrix W = view(DType::Q8_0, wq, 2, 64);
  W.cols = 48;  // not a whole number of blocks
  std::vector<float> x(48), y(2);
  EXPECT_THROW(matmul_qgemm(t.q8_0, quantize_act_reference, x.data(), 1, W, nullptr, y.data(), nullptr), Error);
}

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
#include "qgemm_checks.h"
#include "test_util.h"

using namespace edgevl;
using edgevl_test::randn;
using edgevl_test::quantize_weights;
using edgevl_test::view;

TEST(QGemm, EveryTableMatchesQuantReferenceOnOddShapes) {
  std::string names;
  for (const auto& t : qgemm_tables_available()) names += std::string(" ") + t.name;
  std::printf("[ tables   ] quant GEMM tables on this CPU:%s (best: %s)\n", names.c_str(),
              qgemm_table_best() ? qgemm_table_best()->name : "none");
  for (const auto& t : qgemm_tables_available()) edgevl_test::expect_qgemm_matches_reference(t);
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
      EXPECT_LE(edgevl_test::max_abs_diff(y, ref), edgevl_test::qgemm_tolerance(K)) << dtype_name(type) << " M=" << M << " N=" << N << " K=" << K;
    }
  }
}

TEST(QGemm, SaturationEdgeCases) {
  for (const auto& t : qgemm_tables_available()) edgevl_test::expect_qgemm_exact_on_extremes(t);
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

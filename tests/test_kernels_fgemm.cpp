// The float GEMM (fgemm.h): every kernel set the CPU offers, through the driver, against
// matmul_reference on shapes that leave partial 6-row panels and 16-row strips, with and
// without bias, on f32, f16 and bf16 weights, single- and multi-threaded.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <vector>

#include "core/cpu_features.h"
#include "core/error.h"
#include "kernels/fgemm.h"
#include "kernels/matmul.h"
#include "kernel_test_util.h"
#include "test_util.h"

using namespace edgevl;
using edgevl_test::make_matrix;
using edgevl_test::OwnedMatrix;
using edgevl_test::randn;

namespace {

std::vector<FGemmKernels> kernel_sets() {
  std::vector<FGemmKernels> k = {fgemm_kernels_scalar()};
#if defined(__x86_64__)
  if (cpu_features().has_avx2_kernels()) k.push_back(fgemm_kernels_avx2());
#endif
  return k;
}

}  // namespace

TEST(FGemm, EveryKernelSetMatchesReference) {
  ThreadPool pool(3);
  struct Shape {
    int64_t M, N, K;
  } shapes[] = {{1, 1, 1}, {5, 17, 3}, {6, 16, 64}, {7, 15, 65}, {16, 33, 1}, {97, 70, 200}, {40, 130, 1176}, {13, 64, kFGemmMaxK}};
  for (const FGemmKernels& k : kernel_sets())
    for (const Shape& sh : shapes)
      for (DType t : {DType::F32, DType::F16, DType::BF16})
        for (bool with_bias : {false, true})
          for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
            auto x = randn(sh.M * sh.K, 5 + sh.M);
            auto w = randn(sh.N * sh.K, 6 + sh.N, 0.3f);
            auto bias = randn(sh.N, 7);
            OwnedMatrix m = make_matrix(t, sh.N, sh.K, w);
            std::vector<float> y(sh.M * sh.N, NAN), yr(sh.M * sh.N);
            const float* b = with_bias ? bias.data() : nullptr;
            matmul_fgemm(k, x.data(), sh.M, m.W, b, y.data(), p);
            matmul_reference(x.data(), sh.M, m.W, b, yr.data());
            ASSERT_LE(edgevl_test::max_abs_diff(y, yr), 1e-5f * std::sqrt(float(sh.K)) * 4)
                << k.name << " " << dtype_name(t) << " M=" << sh.M << " N=" << sh.N << " K=" << sh.K << " bias=" << with_bias
                << " pool=" << (p != nullptr);
          }
}

TEST(FGemm, RowsLongerThanTheLimitAreRefused) {
  auto w = randn(2 * (kFGemmMaxK + 1), 1);
  OwnedMatrix m = make_matrix(DType::F32, 2, kFGemmMaxK + 1, w);
  std::vector<float> x(kFGemmMaxK + 1), y(2);
  EXPECT_THROW(matmul_fgemm(fgemm_kernels_scalar(), x.data(), 1, m.W, nullptr, y.data(), nullptr), Error);
}

// matmul() takes this GEMM on AVX2 CPUs without AVX-512 and OpenBLAS's sgemm elsewhere (or
// for longer rows); both give the reference's products.
TEST(FGemm, ChosenOnlyWhereItIsTheFasterGemm) {
  const FGemmKernels* best = fgemm_kernels_best();
#if defined(__x86_64__)
  const auto& f = cpu_features();
  if (f.has_avx2_kernels() && !f.avx512f && !std::getenv("EDGEVL_FGEMM")) {
    ASSERT_NE(best, nullptr);
    EXPECT_STREQ(best->name, "avx2");
  }
  if (f.avx512f && !std::getenv("EDGEVL_FGEMM")) {
    EXPECT_EQ(best, nullptr);
  }
#else
  if (!std::getenv("EDGEVL_FGEMM")) {
    EXPECT_EQ(best, nullptr);
  }
#endif
  ThreadPool pool(2);
  for (int64_t K : {int64_t(1280), int64_t(5120)}) {
    auto x = randn(20 * K, 8), w = randn(24 * K, 9, 0.05f);
    OwnedMatrix m = make_matrix(DType::F16, 24, K, w);
    std::vector<float> y(20 * 24), yr(y.size());
    matmul(x.data(), 20, m.W, nullptr, y.data(), pool);
    matmul_reference(x.data(), 20, m.W, nullptr, yr.data());
    ASSERT_LE(edgevl_test::max_abs_diff(y, yr), 1e-5f * std::sqrt(float(K)) * 4) << "K=" << K;
  }
}

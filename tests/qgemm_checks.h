// Checks of one integer prefill GEMM table (kernels/qgemm.h) against matmul_quant_reference,
// shared by the native tables' tests and the emulated AVX-512 ones.
#pragma once
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/qgemm.h"
#include "kernels/quant.h"
#include "kernel_test_util.h"
#include "test_util.h"

namespace edgevl_test {

// Float rounding of K-term sums of magnitude ~ |x|·|w|·sqrt(K).
inline float qgemm_tolerance(int64_t K) { return 1e-5f * std::sqrt(static_cast<float>(K)) * 4; }

// Odd shapes: M not a multiple of any tile, N not a multiple of the 8- or 16-row group, one
// block; with and without bias, on two threads and on none.
inline void expect_qgemm_matches_reference(const edgevl::QGemmTable& t) {
  using namespace edgevl;
  const std::vector<std::array<int64_t, 3>> shapes = {{1, 1, 32},   {2, 9, 64},    {3, 7, 160},   {4, 8, 32},  {5, 17, 96},
                                                      {7, 16, 1184}, {16, 15, 64}, {33, 25, 256}, {37, 40, 96}, {9, 33, 64}};
  ThreadPool pool(2);
  for (DType type : {DType::Q8_0, DType::Q4_0}) {
    for (auto [M, N, K] : shapes) {
      auto x = randn(M * K, 21 + M);
      auto w = randn(N * K, 23 + N, 0.2f);
      auto bias = randn(N, 29);
      auto wq = quantize_weights(type, w, N, K);
      const WeightMatrix W = view(type, wq, N, K);
      std::vector<float> ref(M * N), ref_nb(M * N);
      matmul_quant_reference(x.data(), M, W, bias.data(), ref.data());
      matmul_quant_reference(x.data(), M, W, nullptr, ref_nb.data());
      const QGemmKernels k = t.for_type(type);
      ASSERT_NE(k.panel, nullptr) << t.name;
      std::vector<float> y(M * N, NAN), y1(M * N, NAN);
      matmul_qgemm(k, quantize_act_reference, x.data(), M, W, bias.data(), y.data(), &pool);
      matmul_qgemm(k, quantize_act_reference, x.data(), M, W, nullptr, y1.data(), nullptr);
      const std::string what = std::string(t.name) + " " + dtype_name(type) + " M=" + std::to_string(M) + " N=" +
                               std::to_string(N) + " K=" + std::to_string(K);
      EXPECT_LE(max_abs_diff(y, ref), qgemm_tolerance(K)) << what;
      EXPECT_LE(max_abs_diff(y1, ref_nb), qgemm_tolerance(K)) << what << " (no bias, one thread)";
    }
  }
}

// Q8_0 weights of -128 (possible in foreign files) against activations of ±127 put a
// maddubs pair sum at its maximum (2·128·127) and vpdpbusd's unsigned operand at 0; Q4_0
// nibbles of 15 and 0 against ±127 put the int16 block sums at theirs. Nothing may saturate.
inline void expect_qgemm_exact_on_extremes(const edgevl::QGemmTable& t) {
  using namespace edgevl;
  const int64_t M = 6, N = 9, K = 96, nb = K / 32;
  std::vector<float> x(M * K);
  for (int64_t i = 0; i < M * K; ++i) x[i] = i % 2 ? -1.0f : 1.0f;  // ±127 alternating
  for (int64_t k = 0; k < K; ++k) x[K + k] = 1.0f;                   // all +127
  for (int64_t k = 0; k < K; ++k) x[2 * K + k] = -1.0f;              // all -127
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
    ASSERT_GT(max_abs(ref), 40.0f) << dtype_name(type);  // the extremes were reached
    std::vector<float> y(M * N, NAN);
    matmul_qgemm(t.for_type(type), quantize_act_reference, x.data(), M, W, nullptr, y.data(), nullptr);
    EXPECT_LE(max_abs_diff(y, ref), max_abs(ref) * 1e-6f) << t.name << " " << dtype_name(type);
  }
}

}  // namespace edgevl_test

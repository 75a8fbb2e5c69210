// Every dispatched kernel against its scalar reference, on odd shapes (tails, one row).
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/attention.h"
#include "kernels/dot.h"
#include "kernels/gemm_blas.h"
#include "kernels/matmul.h"
#include "kernels/vexp.h"
#include "kernels/qdot.h"
#include "kernels/quant.h"
#include "kernels/rope.h"
#include "kernel_test_util.h"
#include "test_util.h"

using namespace edgevl;
using edgevl_test::make_matrix;
using edgevl_test::OwnedMatrix;
using edgevl_test::randn;

namespace {


// |y - yr| <= 1e-4 (+ sum_k |w_k| * d_x(block) / 2 when `quantized`: the rounding bound of
// the int8-quantized activations) for every output of y = x·Wᵀ (yr: the f32 reference).
void expect_within_activation_bound(const std::vector<float>& x, const WeightMatrix& W, const std::vector<float>& y,
                                    const std::vector<float>& yr, int64_t M, bool quantized) {
  const int64_t N = W.rows, K = W.cols;
  std::vector<int8_t> q(K);
  std::vector<float> d(2 * (K / 32)), wrow(K);
  for (int64_t i = 0; i < M; ++i) {
    if (quantized) quantize_act_reference(x.data() + i * K, q.data(), d.data(), K);
    for (int64_t n = 0; n < N; ++n) {
      dequantize_row(W, n, wrow.data());
      double bound = 1e-4;
      if (quantized)
        for (int64_t k = 0; k < K; ++k) bound += std::fabs(wrow[k]) * d[k / 32] * 0.5;
      ASSERT_LE(std::fabs(y[i * N + n] - yr[i * N + n]), bound) << dtype_name(W.type) << " m=" << i << " n=" << n << " K=" << K;
    }
  }
}

}  // namespace

class MatmulVsReference : public ::testing::TestWithParam<DType> {};

TEST_P(MatmulVsReference, OddShapes) {
  const DType t = GetParam();
  ThreadPool pool(2);
  const int64_t bs = dtype_block_size(t);
  for (auto [M, N, K] : std::vector<std::array<int64_t, 3>>{{1, 1, 32}, {1, 7, 96}, {3, 5, 160}, {17, 33, 64}, {5, 3, 1184}}) {
    if (bs == 1) K += 3;  // plain types: exercise the scalar tail too
    auto x = randn(M * K, 1 + M);
    auto w = randn(N * K, 2 + N, 0.3f);
    auto bias = randn(N, 3);
    OwnedMatrix m = make_matrix(t, N, K, w);
    std::vector<float> y(M * N), yr(M * N);
    matmul(x.data(), M, m.W, bias.data(), y.data(), pool);
    matmul_reference(x.data(), M, m.W, bias.data(), yr.data());
    const float tol = 1e-5f * std::sqrt(static_cast<float>(K)) * 4;
    if (bs == 1) {
      ASSERT_LE(edgevl_test::max_abs_diff(y, yr), tol) << dtype_name(t) << " M=" << M << " N=" << N << " K=" << K;
    } else {
      // Block-quantized weights multiply int8-quantized activations (as llama.cpp does):
      // equal to the scalar reference of that algorithm up to float rounding, and to the f32
      // reference within the activation rounding bound sum_k |w_k| * d_x(block) / 2.
      std::vector<float> yq(M * N);
      matmul_quant_reference(x.data(), M, m.W, bias.data(), yq.data());
      ASSERT_LE(edgevl_test::max_abs_diff(y, yq), tol) << dtype_name(t) << " M=" << M << " N=" << N << " K=" << K;
      expect_within_activation_bound(x, m.W, y, yr, M, true);
    }
  }
}

TEST_P(MatmulVsReference, LongPrefillShapes) {
  // M >= 32: the sgemm path (float weights; block-quantized ones where the CPU lacks an
  // int8 dot product) or the int8 tiles; either way within its own bound of the f32
  // reference: float rounding, or the activation quantization bound as above.
  const DType t = GetParam();
  ThreadPool pool(2);
  const int64_t M = 37, N = 45, K = 160;
  auto x = randn(M * K, 5);
  auto w = randn(N * K, 6, 0.3f);
  auto bias = randn(N, 7);
  OwnedMatrix m = make_matrix(t, N, K, w);
  std::vector<float> y(M * N), yr(M * N);
  matmul(x.data(), M, m.W, bias.data(), y.data(), pool);
  matmul_reference(x.data(), M, m.W, bias.data(), yr.data());
  expect_within_activation_bound(x, m.W, y, yr, M, dtype_block_size(t) > 1);
}

TEST_P(MatmulVsReference, SameInputProductsEqualSeparateOnes) {
  // matmul_same_input (Q/K/V and gate/up of the decoder): one quantization of x and one
  // parallel region over all rows for decode and short prompts on block-quantized weights,
  // one matmul() each otherwise; bit-identical to separate matmul() calls either way.
  const DType t = GetParam();
  ThreadPool pool(2);
  const int64_t K = 160;
  for (int64_t M : {1, 3, 5, 31, 40}) {
    auto x = randn(M * K, 60 + M);
    OwnedMatrix a = make_matrix(t, 37, K, randn(37 * K, 61, 0.3f)), b = make_matrix(t, 8, K, randn(8 * K, 62, 0.3f)),
                c = make_matrix(t, 13, K, randn(13 * K, 63, 0.3f));
    auto ba = randn(37, 64), bc = randn(13, 65);
    std::vector<float> ya(M * 37, NAN), yb(M * 8, NAN), yc(M * 13, NAN), ra(M * 37), rb(M * 8), rc(M * 13);
    matmul_same_input(x.data(), M, {{&a.W, ba.data(), ya.data()}, {&b.W, nullptr, yb.data()}, {&c.W, bc.data(), yc.data()}}, pool);
    matmul(x.data(), M, a.W, ba.data(), ra.data(), pool);
    matmul(x.data(), M, b.W, nullptr, rb.data(), pool);
    matmul(x.data(), M, c.W, bc.data(), rc.data(), pool);
    EXPECT_EQ(edgevl_test::max_abs_diff(ya, ra), 0.0f) << dtype_name(t) << " M=" << M;
    EXPECT_EQ(edgevl_test::max_abs_diff(yb, rb), 0.0f) << dtype_name(t) << " M=" << M;
    EXPECT_EQ(edgevl_test::max_abs_diff(yc, rc), 0.0f) << dtype_name(t) << " M=" << M;
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatmulVsReference,
                         ::testing::Values(DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(Dot, EveryTableMatchesScalar) {
  std::vector<DotTable> tables = dot_tables_available();
  const DotTable ref = dot_table_scalar();
  for (int64_t k : {1, 7, 8, 31, 32, 33, 100, 1176}) {
    auto x = randn(k, 10 + k);
    auto w = randn(k, 20 + k);
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
      OwnedMatrix m = make_matrix(t, 1, k, w);
      for (const auto& tab : tables) {
        float a = tab.for_type(t)(x.data(), m.W.data, k), b = ref.for_type(t)(x.data(), m.W.data, k);
        ASSERT_NEAR(a, b, 1e-4f * std::sqrt(float(k))) << tab.name << " " << dtype_name(t) << " k=" << k;
      }
    }
  }
}

// y += a·w on f32 and f16 rows: each table against a double-precision sum of the same
// widened values (one FMA or one multiply-add per element: within an ulp or two of y).
TEST(Dot, EveryAxpyMatchesReference) {
  for (int64_t k : {1, 7, 8, 9, 16, 17, 33, 128, 1280}) {
    auto w = randn(k, 40 + k), y0 = randn(k, 50 + k);
    const float a = -0.7f;
    for (DType t : {DType::F32, DType::F16}) {
      OwnedMatrix m = make_matrix(t, 1, k, w);
      std::vector<float> wide(k);
      dequantize_row(m.W, 0, wide.data());
      for (const auto& tab : dot_tables_available()) {
        std::vector<float> y = y0;
        (t == DType::F16 ? tab.f16_axpy : tab.f32_axpy)(a, m.W.data, y.data(), k);
        for (int64_t i = 0; i < k; ++i)
          ASSERT_NEAR(y[i], double(y0[i]) + double(a) * wide[i], 1e-6 * (1 + std::fabs(y0[i]) + std::fabs(wide[i])))
              << tab.name << " " << dtype_name(t) << " k=" << k << " i=" << i;
      }
    }
  }
}

TEST(Dot, EveryRowWideningMatchesDequantizeRow) {
  for (int64_t k : {1, 7, 8, 9, 15, 16, 17, 33, 1280}) {
    auto w = randn(2 * k, 30 + k);
    w[k] = 1e-7f;  // an f16 subnormal in row 1
    for (DType t : {DType::F16, DType::BF16}) {
      OwnedMatrix m = make_matrix(t, 2, k, w);
      std::vector<float> ref(k), got(k);
      dequantize_row(m.W, 1, ref.data());
      for (const auto& tab : dot_tables_available()) {
        std::fill(got.begin(), got.end(), -1.0f);
        (t == DType::F16 ? tab.f16_row : tab.bf16_row)(m.W.row(1), got.data(), k);
        ASSERT_EQ(got, ref) << tab.name << " " << dtype_name(t) << " k=" << k;  // widening is exact
      }
      dequantize_row_fast(m.W, 1, got.data());
      ASSERT_EQ(got, ref) << "dequantize_row_fast " << dtype_name(t);
    }
    for (DType t : {DType::F32, DType::Q8_0, DType::Q4_0}) {
      if (t != DType::F32 && k % 32) continue;
      OwnedMatrix m = make_matrix(t, 2, k, w);
      std::vector<float> ref(k), got(k);
      dequantize_row(m.W, 1, ref.data());
      dequantize_row_fast(m.W, 1, got.data());
      ASSERT_EQ(got, ref) << "dequantize_row_fast " << dtype_name(t);
      if (t == DType::F32) continue;
      for (const auto& tab : qdot_tables_available()) {
        std::fill(got.begin(), got.end(), -1.0f);
        (t == DType::Q8_0 ? tab.q8_0_row : tab.q4_0_row)(m.W.row(1), got.data(), k);
        ASSERT_EQ(got, ref) << tab.name << " " << dtype_name(t) << " k=" << k;  // d·q, one rounding
      }
    }
  }
}

TEST(Exp, EveryTableWithinAFewUlpOfStdExp) {
  // Dense sweep over the range softmax and the gates see, the edges of the f32 range,
  // infinities (softmax of masked scores), and lengths with SIMD tails.
  std::vector<float> x;
  for (float v = -90.0f; v <= 90.0f; v += 0.01234f) x.push_back(v);
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, -87.3f, -87.34f, 88.7f, 88.73f, 100.0f, -1000.0f, INFINITY, -INFINITY}) x.push_back(v);
  for (const auto& tab : exp_tables_available()) {
    for (int64_t n : {int64_t(1), int64_t(3), int64_t(7), int64_t(9), int64_t(x.size())}) {
      std::vector<float> y(n, -1.0f);
      const float shift = 0.5f;
      const float sum = tab.exp(x.data(), y.data(), n, shift);
      double ref_sum = 0;
      for (int64_t i = 0; i < n; ++i) {
        const float ref = std::exp(x[i] - shift);
        ref_sum += ref;
        if (std::isinf(ref)) {
          ASSERT_TRUE(std::isinf(y[i]) && y[i] > 0) << tab.name << " x=" << x[i];
        } else if (ref < 1.2e-38f) {  // below the normal range: 0 or the subnormal
          ASSERT_LE(std::fabs(y[i] - ref), 1.2e-38f) << tab.name << " x=" << x[i];
        } else {
          ASSERT_NEAR(y[i], ref, 4e-7f * ref) << tab.name << " x=" << x[i];
        }
      }
      if (std::isfinite(ref_sum)) {
        ASSERT_NEAR(sum, ref_sum, 1e-5 * ref_sum + 1e-30) << tab.name << " n=" << n;
      }
    }
    // In place, as softmax uses it.
    std::vector<float> v = {1.0f, 2.0f, 3.0f};
    tab.exp(v.data(), v.data(), 3, 3.0f);
    EXPECT_NEAR(v[2], 1.0f, 1e-7f);
    EXPECT_NEAR(v[0], std::exp(-2.0f), 1e-7f);
  }
}

TEST(Dot, EveryFourRowVariantMatchesScalar) {
  const DotTable ref = dot_table_scalar();
  for (int64_t k : {1, 7, 8, 15, 16, 17, 33, 100, 1176}) {
    const int64_t xs = k + 3;  // rows not contiguous
    auto x = randn(4 * xs, 30 + k);
    auto w = randn(k, 40 + k);
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
      OwnedMatrix m = make_matrix(t, 1, k, w);
      for (const auto& tab : dot_tables_available()) {
        ASSERT_NE(tab.x4_for_type(t), nullptr) << tab.name;
        float out[4];
        tab.x4_for_type(t)(x.data(), xs, m.W.data, k, out);
        for (int r = 0; r < 4; ++r)
          ASSERT_NEAR(out[r], ref.for_type(t)(x.data() + r * xs, m.W.data, k), 1e-4f * std::sqrt(float(k)))
              << tab.name << " " << dtype_name(t) << " k=" << k << " row " << r;
      }
    }
  }
}

TEST(Quant, Q8RoundTripWithinHalfStep) {
  auto x = randn(96, 5);
  std::vector<uint8_t> q(3 * sizeof(BlockQ8_0));
  quantize_q8_0(x.data(), q.data(), 96);
  std::vector<float> y(96);
  dequantize_q8_0(q.data(), y.data(), 96);
  for (int b = 0; b < 3; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
    for (int j = 0; j < 32; ++j) ASSERT_LE(std::fabs(x[b * 32 + j] - y[b * 32 + j]), amax / 127 * 0.51f + 1e-3f);
  }
}

TEST(Quant, Q4MapsLargestMagnitudeToMinus8) {
  std::vector<float> x(32, 0.0f);
  x[3] = -4.0f;
  x[20] = 2.0f;
  BlockQ4_0 b;
  quantize_q4_0(x.data(), &b, 32);
  EXPECT_EQ(f16_to_f32(b.d), 0.5f);  // -4 / -8
  EXPECT_EQ(b.qs[3] & 0x0f, 0);      // -4 -> q=0 (x = d*(q-8) = -4)
  EXPECT_EQ(b.qs[4] >> 4, 12);       // element 20 = 2.0 -> q=12
  std::vector<float> y(32);
  dequantize_q4_0(&b, y.data(), 32);
  EXPECT_EQ(y[3], -4.0f);
  EXPECT_EQ(y[20], 2.0f);
  EXPECT_EQ(y[0], 0.0f);
}

TEST(Attention, MatchesReferenceCausalAndFull) {
  ThreadPool pool(2);
  // 7 query rows take the per-row kernel, 40 the sgemm path (when built with BLAS).
  for (int64_t nq : {7, 40})
    for (int64_t causal : {-1, 0, 5}) {
      AttentionArgs a;
      a.n_head = 4;
      a.n_kv_head = 2;
      a.head_dim = 16;
      a.nq = nq;
      a.nk = causal == 5 ? nq + 5 : nq;
      a.q_stride = a.n_head * a.head_dim;
      a.kv_stride = a.n_kv_head * a.head_dim;
      a.out_stride = a.q_stride;
      a.scale = 0.25f;
      a.causal_offset = causal;
      auto q = randn(a.nq * a.q_stride, 1), k = randn(a.nk * a.kv_stride, 2), v = randn(a.nk * a.kv_stride, 3);
      std::vector<float> o(a.nq * a.out_stride), orf(o.size());
      a.q = q.data();
      a.k = k.data();
      a.v = v.data();
      a.out = o.data();
      attention(a, pool);
      a.out = orf.data();
      attention_reference(a);
      ASSERT_LE(edgevl_test::max_abs_diff(o, orf), 1e-5f) << "nq=" << nq << " causal_offset=" << causal;
    }
}

// K and V stored as f16 (an f16 KV cache): the per-row path (decode) and the tiled path
// (prefill: widened per key tile, with and without sgemm) against the reference, which
// reads the same halves exactly. Odd head size and padded rows exercise the SIMD tails.
TEST(Attention, F16KeysAndValuesMatchReference) {
  ThreadPool pool(2);
  for (int64_t nq : {1, 7, 40, 300})
    for (int64_t causal : {-1, 0, 9})
      for (bool use_gemm : {true, false}) {
        AttentionArgs a;
        a.n_head = 6;
        a.n_kv_head = 2;
        a.head_dim = 20;
        a.nq = nq;
        a.nk = causal == 9 ? nq + 9 : nq;
        a.q_stride = a.n_head * a.head_dim;
        a.kv_stride = a.n_kv_head * a.head_dim + 4;
        a.out_stride = a.q_stride;
        a.scale = 0.3f;
        a.causal_offset = causal;
        auto q = randn(a.nq * a.q_stride, 21, 2.0f), kf = randn(a.nk * a.kv_stride, 22, 2.0f), vf = randn(a.nk * a.kv_stride, 23);
        std::vector<uint16_t> k(kf.size()), v(vf.size());
        for (size_t i = 0; i < k.size(); ++i) k[i] = f32_to_f16(kf[i]), v[i] = f32_to_f16(vf[i]);
        std::vector<float> o(a.nq * a.out_stride), orf(o.size());
        a.q = q.data();
        a.k = k.data();
        a.v = v.data();
        a.kv_type = DType::F16;
        a.out = o.data();
        if (nq >= kGemmMinRows)
          attention_tiled(a, pool, use_gemm);
        else
          attention_rows(a, pool, use_gemm);
        a.out = orf.data();
        attention_reference(a);
        ASSERT_LE(edgevl_test::max_abs_diff(o, orf), 1e-5f) << "nq=" << nq << " causal_offset=" << causal << " gemm=" << use_gemm;
      }
  AttentionArgs bad;
  bad.nq = bad.nk = 1;
  bad.kv_type = DType::BF16;
  EXPECT_THROW(attention(bad, pool), Error);
}

// Decode-shaped attention over long contexts: the per-row path splits the keys into chunks
// (one task per row, KV head and chunk) and merges their softmax sums, with sgemm on the
// chunks (when BLAS is built in) and with the dot/axpy kernels. One query row after
// 999 cached keys (GQA 3:1 and 1:1), and three causal rows that see 1-3 of 600 keys, so
// that some chunks are empty; f32 and f16 K/V.
TEST(Attention, KeyChunksMergeToTheReference) {
  for (int threads : {1, 2, 3})
    for (DType kv : {DType::F32, DType::F16}) {
      ThreadPool pool(threads);
      struct Shape {
        int64_t nq, nk, causal;
        int n_head, n_kv_head;
      } shapes[] = {{1, 1000, 999, 6, 2}, {1, 1000, 999, 2, 2}, {3, 600, 0, 4, 1}, {2, 2000, 1998, 12, 2}};
      for (const Shape& sh : shapes) {
        AttentionArgs a;
        a.n_head = sh.n_head;
        a.n_kv_head = sh.n_kv_head;
        a.head_dim = 24;
        a.nq = sh.nq;
        a.nk = sh.nk;
        a.q_stride = a.out_stride = a.n_head * a.head_dim;
        a.kv_stride = a.n_kv_head * a.head_dim;
        a.scale = 0.2f;
        a.causal_offset = sh.causal;
        auto q = randn(a.nq * a.q_stride, 31, 3.0f), kf = randn(a.nk * a.kv_stride, 32, 3.0f), v = randn(a.nk * a.kv_stride, 33);
        std::vector<uint16_t> kh(kf.size()), vh(v.size());
        for (size_t i = 0; i < kh.size(); ++i) kh[i] = f32_to_f16(kf[i]), vh[i] = f32_to_f16(v[i]);
        a.q = q.data();
        a.kv_type = kv;
        a.k = kv == DType::F16 ? static_cast<const void*>(kh.data()) : kf.data();
        a.v = kv == DType::F16 ? static_cast<const void*>(vh.data()) : v.data();
        std::vector<float> o(a.nq * a.out_stride), orf(o.size());
        a.out = orf.data();
        attention_reference(a);
        for (bool use_gemm : {true, false}) {
          std::fill(o.begin(), o.end(), NAN);
          a.out = o.data();
          attention_rows(a, pool, use_gemm);
          ASSERT_LE(edgevl_test::max_abs_diff(o, orf), 1e-5f) << "threads=" << threads << " " << dtype_name(kv) << " nq=" << sh.nq
                                                              << " nk=" << sh.nk << " heads=" << sh.n_head << " gemm=" << use_gemm;
        }
      }
    }
}

TEST(Rope, RotatesHalvesAndPreservesNorm) {
  std::vector<float> x = {1, 2, 3, 4};
  std::vector<float> c = {0, 1, 0, 1}, s = {1, 0, 1, 0};  // 90° on pair (0,2), 0° on pair (1,3)
  rope_apply(x.data(), 1, 4, c.data(), s.data());
  EXPECT_FLOAT_EQ(x[0], -3);
  EXPECT_FLOAT_EQ(x[2], 1);
  EXPECT_FLOAT_EQ(x[1], 2);
  EXPECT_FLOAT_EQ(x[3], 4);
}

// The tiled online-softmax path against the double-precision reference: shapes that
// leave partial query and key tiles, causal offsets that put the diagonal inside a key
// tile, GQA groups of 1, 3 and 4, odd head sizes, padded strides; with sgemm tiles (when
// BLAS is built in) and with the dot kernels.
TEST(Attention, TiledMatchesReferenceOnOddShapes) {
  ThreadPool pool(3);
  struct Shape {
    int64_t nq, nk_extra, causal;
    int n_head, n_kv_head, head_dim;
  };
  const Shape shapes[] = {
      {1, 0, -1, 2, 2, 8},     {16, 0, 0, 4, 2, 16},       {17, 3, 3, 6, 2, 13},       {129, 0, -1, 3, 3, 24},
      {130, 200, 200, 4, 1, 40}, {300, 0, 0, 4, 4, 20},   {257, 700, 700, 6, 2, 64},  {600, 0, -1, 2, 1, 8},
  };
  for (bool use_gemm : {true, false})
    for (const Shape& sh : shapes) {
      AttentionArgs a;
      a.n_head = sh.n_head;
      a.n_kv_head = sh.n_kv_head;
      a.head_dim = sh.head_dim;
      a.nq = sh.nq;
      a.nk = sh.nq + sh.nk_extra;
      a.q_stride = a.n_head * a.head_dim + 5;  // padded rows
      a.kv_stride = a.n_kv_head * a.head_dim + 3;
      a.out_stride = a.n_head * a.head_dim + 1;
      a.scale = 1.0f / std::sqrt(float(a.head_dim));
      a.causal_offset = sh.causal;
      auto q = randn(a.nq * a.q_stride, 11, 2.0f), k = randn(a.nk * a.kv_stride, 12, 2.0f), v = randn(a.nk * a.kv_stride, 13);
      std::vector<float> o(a.nq * a.out_stride, 0.0f), orf(o.size(), 0.0f);
      a.q = q.data();
      a.k = k.data();
      a.v = v.data();
      a.out = o.data();
      attention_tiled(a, pool, use_gemm);
      a.out = orf.data();
      attention_reference(a);
      ASSERT_LE(edgevl_test::max_abs_diff(o, orf), 2e-5f)
          << "gemm=" << use_gemm << " nq=" << a.nq << " nk=" << a.nk << " causal=" << a.causal_offset << " heads=" << a.n_head << "/"
          << a.n_kv_head << " hd=" << a.head_dim;
    }
}

TEST(Attention, TiledStopsWhenCancelled) {
  ThreadPool pool(2);
  AttentionArgs a;
  a.n_head = a.n_kv_head = 2;
  a.head_dim = 8;
  a.nq = a.nk = 512;
  a.q_stride = a.kv_stride = a.out_stride = 16;
  auto q = randn(a.nq * 16, 1), k = randn(a.nk * 16, 2), v = randn(a.nk * 16, 3);
  std::vector<float> o(a.nq * 16);
  a.q = q.data();
  a.k = k.data();
  a.v = v.data();
  a.out = o.data();
  std::atomic<bool> flag{true};
  const Cancel cancel(&flag);
  a.cancel = &cancel;
  try {
    attention(a, pool);
    FAIL() << "a cancelled attention returned normally";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kAborted);
  }
}

// The ggml types beyond Q8_0/Q4_0 (Q4_1, Q5_0, Q5_1, Q2_K..Q6_K): our quantizers round-trip
// within the format's resolution, the unpacked view the scalar dot uses agrees with the
// dequantizer, and every kernel table the CPU can run matches the scalar reference on odd
// shapes (odd block counts, tails of the 4-row blocking), with row widening bit-exact.
// (Bit-exactness against ggml itself: test_kquant_vectors.cpp.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "core/thread_pool.h"
#include "kernels/kquant.h"
#include "kernels/matmul.h"
#include "kernels/qdot.h"
#include "kernels/quant.h"
#include "kernel_test_util.h"
#include "test_util.h"

using namespace edgevl;
using edgevl_test::randn;
using edgevl_test::view;
using edgevl_test::max_abs;

namespace {

struct TypeCase {
  DType type;
  QKind kind;
  bool quantizable;
  float max_rel_rms;  // round-trip error bound, RMS(error) / RMS(x), gaussian data
};
const TypeCase kCases[] = {
    {DType::Q4_1, QKind::Q4_1, true, 0.12f}, {DType::Q5_0, QKind::Q5_0, true, 0.07f}, {DType::Q5_1, QKind::Q5_1, true, 0.06f},
    {DType::Q4_K, QKind::Q4_K, true, 0.12f}, {DType::Q5_K, QKind::Q5_K, true, 0.06f}, {DType::Q6_K, QKind::Q6_K, true, 0.04f},
    {DType::Q2_K, QKind::Q2_K, false, 0},    {DType::Q3_K, QKind::Q3_K, false, 0},
};

void dequantize(DType t, const void* in, float* out, int64_t n) {
  WeightMatrix W;
  W.type = t;
  W.rows = 1;
  W.cols = n;
  W.row_bytes = dtype_row_bytes(t, n);
  W.data = static_cast<const uint8_t*>(in);
  dequantize_row(W, 0, out);
}

// Offsets of the f16 scale fields in a block (random bytes there could be NaN or huge).
std::vector<size_t> f16_fields(DType t) {
  switch (t) {
    case DType::Q4_1: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K: return {0, 2};
    case DType::Q5_0: return {0};
    case DType::Q6_K: return {208};
    case DType::Q2_K: return {80, 82};
    case DType::Q3_K: return {108};
    default: return {};
  }
}

// rows x cols weights of type t: quantized gaussian data where we have a quantizer (unless
// raw), random bytes with sane f16 scales otherwise. Every bit pattern of the packed values
// is legal, and random bytes reach what our quantizers never write: Q6_K scales of -128,
// Q4_K/Q5_K scales and mins of 63 next to values of 0 and the type's maximum.
std::vector<uint8_t> make_weights(const TypeCase& c, int64_t rows, int64_t cols, uint32_t seed, bool raw = false) {
  const size_t rb = dtype_row_bytes(c.type, cols);
  std::vector<uint8_t> out(rb * rows);
  if (c.quantizable && !raw) {
    const auto w = randn(static_cast<size_t>(rows * cols), seed, 0.5f);
    for (int64_t r = 0; r < rows; ++r) quantize_blocks(c.type, w.data() + r * cols, out.data() + r * rb, cols);
    return out;
  }
  std::mt19937 g(seed);
  for (auto& b : out) b = static_cast<uint8_t>(g());
  std::uniform_real_distribution<float> u(0.001f, 0.05f);
  const size_t bb = dtype_block_bytes(c.type);
  for (size_t off = 0; off < out.size(); off += bb)
    for (size_t f : f16_fields(c.type)) {
      const uint16_t h = f32_to_f16(u(g));
      std::memcpy(out.data() + off + f, &h, 2);
    }
  return out;
}

}  // namespace

TEST(KQuant, QuantizersRoundTripWithinTheFormatsResolution) {
  const int64_t n = 4 * 256;
  auto x = randn(n, 7);
  for (int j = 256; j < 288; ++j) x[j] = 0.0f;  // an all-zero sub-block
  x[600] = 9.0f;                               // an outlier
  for (const auto& c : kCases) {
    if (!c.quantizable) continue;
    std::vector<uint8_t> q(dtype_row_bytes(c.type, n));
    quantize_blocks(c.type, x.data(), q.data(), n);
    std::vector<float> y(n);
    dequantize(c.type, q.data(), y.data(), n);
    double err = 0, ref = 0;
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_TRUE(std::isfinite(y[i])) << dtype_name(c.type) << " at " << i;
      err += (y[i] - x[i]) * (y[i] - x[i]);
      ref += x[i] * x[i];
    }
    EXPECT_LT(std::sqrt(err / ref), c.max_rel_rms) << dtype_name(c.type);
    for (int j = 256; j < 288; ++j) EXPECT_EQ(y[j], 0.0f) << dtype_name(c.type) << " zero block, value " << j;
  }
  EXPECT_THROW(quantize_blocks(DType::Q2_K, x.data(), nullptr, n), Error);
}

TEST(KQuant, UnpackedViewAgreesWithDequantizer) {
  for (const auto& c : kCases) {
    const int64_t n = 512;
    const auto w = make_weights(c, 1, n, 11);
    std::vector<float> y(n);
    dequantize(c.type, w.data(), y.data(), n);
    for (int64_t j = 0; j < n / 32; ++j) {
      Unpacked32 u;
      unpack32(c.kind, w.data(), j, &u);
      for (int l = 0; l < 32; ++l) {
        const float v = u.scale[l / 16] * u.q[l] + u.bias[l / 16];
        ASSERT_NEAR(v, y[j * 32 + l], 1e-6f * (1 + std::fabs(y[j * 32 + l]))) << dtype_name(c.type) << " value " << j * 32 + l;
      }
    }
  }
}

namespace {

// Every table's kernels for type c against the scalar reference on two weight rows of k
// values and four activation rows (the last at the int8 extremes).
void check_tables_against_reference(const TypeCase& c, int64_t k, bool raw) {
  SCOPED_TRACE(std::string(dtype_name(c.type)) + " k=" + std::to_string(k) + (raw ? " raw bytes" : " quantized"));
  const QDotTable ref = qdot_table_scalar();
  const auto tables = qdot_tables_available();
  const int64_t nb = k / 32;
  const auto w = make_weights(c, 2, k, 100 + static_cast<uint32_t>(k), raw);
  const size_t rb = dtype_row_bytes(c.type, k);
  auto x = randn(static_cast<size_t>(4 * k), 200 + static_cast<uint32_t>(k), 2.0f);
  // Activation row 3 at the int8 extremes: every value quantizes to +-127.
  for (int64_t e = 0; e < k; ++e) x[3 * k + e] = (e * 7 + e / 5) % 3 == 0 ? -1.5f : 1.5f;
  std::vector<int8_t> q(4 * k);
  std::vector<float> d(4 * 2 * nb);
  for (int r = 0; r < 4; ++r) quantize_act_reference(x.data() + r * k, q.data() + r * k, d.data() + r * 2 * nb, k);
  // Tolerance: float reordering of per-block sums; scaled by the sum of |products|.
  std::vector<float> wf(2 * k);
  for (int i = 0; i < 2; ++i) dequantize(c.type, w.data() + i * rb, wf.data() + i * k, k);
  auto tol = [&](int i, int r) {
    double s = 0;
    for (int64_t e = 0; e < k; ++e) s += std::fabs(wf[i * k + e] * x[r * k + e]);
    return static_cast<float>(2e-5 * s + 1e-6);
  };
  const QDotKernels kr = ref.for_type(c.type);
  ASSERT_TRUE(kr.dot && kr.x4 && kr.x2x4 && kr.row) << dtype_name(c.type);
  float want[2][4];
  for (int i = 0; i < 2; ++i)
    for (int r = 0; r < 4; ++r) want[i][r] = kr.dot(w.data() + i * rb, q.data() + r * k, d.data() + r * 2 * nb, nb);
  // The integer dot against the f32 dot on dequantized weights: only activation rounding apart.
  for (int r = 0; r < 4; ++r) {
    double exact = 0, mag = 0;
    for (int64_t e = 0; e < k; ++e) exact += static_cast<double>(wf[e]) * x[r * k + e], mag += std::fabs(wf[e] * x[r * k + e]);
    EXPECT_NEAR(want[0][r], exact, 0.02 * mag + 1e-5) << dtype_name(c.type) << " k=" << k;
  }
  std::vector<float> widened(k);
  for (const auto& t : tables) {
    const QDotKernels kt = t.for_type(c.type);
    ASSERT_TRUE(kt.dot) << t.name << " " << dtype_name(c.type);
    for (int i = 0; i < 2; ++i)
      for (int r = 0; r < 4; ++r) {
        const float got = kt.dot(w.data() + i * rb, q.data() + r * k, d.data() + r * 2 * nb, nb);
        EXPECT_NEAR(got, want[i][r], tol(i, r)) << t.name << " " << dtype_name(c.type) << " k=" << k;
        EXPECT_FALSE(std::isnan(got));
      }
    if (kt.x4) {
      float out[4];
      kt.x4(w.data() + rb, q.data(), k, d.data(), 2 * nb, nb, out);
      for (int r = 0; r < 4; ++r) EXPECT_NEAR(out[r], want[1][r], tol(1, r)) << t.name << " x4 " << dtype_name(c.type);
    }
    if (kt.x2x4) {
      float out[8];
      kt.x2x4(w.data(), static_cast<int64_t>(rb), q.data(), k, d.data(), 2 * nb, nb, out);
      for (int i = 0; i < 2; ++i)
        for (int r = 0; r < 4; ++r) EXPECT_NEAR(out[i * 4 + r], want[i][r], tol(i, r)) << t.name << " 2x4 " << dtype_name(c.type);
    }
    if (kt.row) {
      kt.row(w.data() + rb, widened.data(), k);
      EXPECT_EQ(std::memcmp(widened.data(), wf.data() + k, k * sizeof(float)), 0) << t.name << " row " << dtype_name(c.type);
    }
  }
}

}  // namespace

TEST(KQuant, EveryKernelTableMatchesScalarReference) {
  for (const auto& c : kCases) {
    const int64_t unit = dtype_block_size(c.type);
    // One block, odd block counts, and a width like the 2B model's 1536 (k-quants) / 96;
    // quantized and raw random weights (make_weights gives the latter alone for Q2_K/Q3_K).
    for (int64_t k : {unit, 3 * unit, 5 * unit, unit == 32 ? int64_t{96 * 16} : int64_t{6 * 256}})
      for (bool raw : {false, true})
        if (c.quantizable || raw) check_tables_against_reference(c, k, raw);
  }
}

// A SIMD table that kept the scalar kernels would pass the comparison above trivially: each
// one the CPU runs must bring its own dot, x4 and row widener for the types edgevl writes
// (Q2_K/Q3_K have scalar kernels only).
TEST(KQuant, EverySimdTableHasItsOwnKernelsForTheTypesEdgevlWrites) {
  const QDotTable ref = qdot_table_scalar();
  const auto tables = qdot_tables_available();
  ASSERT_FALSE(tables.empty());
  ASSERT_STREQ(tables[0].name, "scalar");
  if (tables.size() < 2) GTEST_SKIP() << "this CPU runs the scalar kernels only";
  for (size_t i = 1; i < tables.size(); ++i)
    for (const auto& c : kCases) {
      if (!c.quantizable) continue;
      const QDotKernels k = tables[i].for_type(c.type), r = ref.for_type(c.type);
      EXPECT_NE(k.dot, r.dot) << tables[i].name << " " << dtype_name(c.type);
      EXPECT_TRUE(k.x4 && k.x4 != r.x4) << tables[i].name << " " << dtype_name(c.type);
      EXPECT_TRUE(k.row && k.row != r.row) << tables[i].name << " " << dtype_name(c.type);
    }
}

TEST(KQuant, MatmulMatchesReferenceOnEveryPath) {
  ThreadPool pool(2);
  for (const auto& c : kCases) {
    const int64_t K = dtype_block_size(c.type) == 32 ? 160 : 512, N = 19;
    const auto wb = make_weights(c, N, K, 300);
    const WeightMatrix W = view(c.type, wb, N, K);
    std::vector<float> bias(N);
    for (int64_t n = 0; n < N; ++n) bias[n] = 0.01f * n;
    // Decode (1), the 4-row tiles with a tail (7), and a long prefill (40: sgemm on
    // widened rows where the CPU lacks an int8 dot product, the int8 tiles elsewhere).
    for (int64_t M : {1, 7, 40}) {
      const auto x = randn(static_cast<size_t>(M * K), 400 + static_cast<uint32_t>(M));
      std::vector<float> y(M * N), yq(M * N), yf(M * N);
      matmul(x.data(), M, W, bias.data(), y.data(), pool);
      matmul_quant_reference(x.data(), M, W, bias.data(), yq.data());
      matmul_reference(x.data(), M, W, bias.data(), yf.data());
      for (int64_t i = 0; i < M * N; ++i) {
        ASSERT_FALSE(std::isnan(y[i]));
        // Either the int8 path (near yq) or the f32 path (near yf); both near yf within the
        // activation rounding.
        const float scale = 1e-2f * (1.0f + max_abs(yf));
        EXPECT_NEAR(y[i], yf[i], scale) << dtype_name(c.type) << " M=" << M << " i=" << i;
        if (M < 32) {
          EXPECT_NEAR(y[i], yq[i], 1e-4f * (1.0f + max_abs(yq))) << dtype_name(c.type) << " M=" << M << " i=" << i;
        }
      }
    }
  }
}

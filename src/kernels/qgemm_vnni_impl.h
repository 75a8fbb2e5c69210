// VNNI micro-kernels of the integer prefill GEMM (qgemm.h), one source for two widths:
//   Zmm: AVX-512 VNNI on the x16 layout (16 weight rows per 64-byte vector), 8x16 tiles;
//   Ymm: AVX-VNNI (or AVX-512 VNNI+VL) on 8-row groups of 32-byte vectors, 4x8 tiles (16
//        vector registers without AVX-512).
//
// Written against SIMDe's names (simde_mm512_*, Debian's libsimde-dev): compiled with the ISA
// flags (qgemm_avx512.cpp, qgemm_avxvnni.cpp) each call is the native intrinsic, and compiled
// without them (tests/test_kernels_qgemm_vnni.cpp) SIMDe emulates it, so these kernels are
// tested against the scalar reference on every machine, not only on CPUs that have VNNI.
// Everything here has internal linkage: each includer gets its own copy for its own flags.
//
// A tile is R activation rows x one group of weight rows, one f32 accumulator per activation
// row whose lane i is weight row i. Per block, each weight vector holds 4 elements of every
// row of the group, stored as unsigned bytes (Q4_0: the nibbles, w + 8; Q8_0: w ^ 0x80 =
// w + 128, packed with the sign bit flipped). The 4 matching activation bytes are broadcast
// to every lane and vpdpbusd adds lane i's 4 products to row i's int32 sum, which starts at
// -offset·Σq so that it ends as the exact signed dot product. One FMA per block applies the
// group's scales.
#pragma once
#include <simde/x86/avx512.h>

#include <cstring>

#include "kernels/qgemm.h"
#include "kernels/quant.h"
#include "kernels/simde_util.h"

namespace edgevl {
namespace {

namespace vnni_qgemm {

struct Zmm {
  using I = simde__m512i;
  using F = simde__m512;
  static constexpr int kRows = kX16Rows;  // weight rows per group = int32 lanes
  static constexpr int kTileM = 8;        // 8 weights + 8 accumulators + temporaries in 32 registers
  static constexpr size_t kBlockQ8 = kX16BlockBytesQ8, kBlockQ4 = kX16BlockBytesQ4;
  static I load(const uint8_t* p) { return simde_mm512_loadu_si512(p); }
  static I set1_i32(int32_t v) { return simde_mm512_set1_epi32(v); }
  static I low_nibbles(I v) { return simde_mm512_and_si512(v, simde_mm512_set1_epi8(0x0f)); }
  static I high_nibbles(I v) { return low_nibbles(simde_mm512_srli_epi16(v, 4)); }
  static I dpbusd(I acc, I u, I s) { return simde_mm512_dpbusd_epi32(acc, u, s); }
  static F zero() { return simde_mm512_setzero_ps(); }
  static F loadf(const float* p) { return simde_mm512_loadu_ps(p); }
  static F set1_f(float v) { return simde_mm512_set1_ps(v); }
  static F mul(F a, F b) { return simde_mm512_mul_ps(a, b); }
  static F add(F a, F b) { return simde_mm512_add_ps(a, b); }
  static F fmadd(F a, F b, F c) { return simde_mm512_fmadd_ps(a, b, c); }
  static F to_float(I v) { return simde_util::i32_to_f32(v); }
  static void storef(float* p, F v) { simde_mm512_storeu_ps(p, v); }
};

struct Ymm {
  using I = simde__m256i;
  using F = simde__m256;
  static constexpr int kRows = kX8Rows;
  static constexpr int kTileM = 4;  // 8 weights + 4 accumulators + temporaries in 16 registers
  static constexpr size_t kBlockQ8 = kX8BlockBytesQ8, kBlockQ4 = kX8BlockBytesQ4;
  static I load(const uint8_t* p) { return simde_mm256_loadu_si256(p); }
  static I set1_i32(int32_t v) { return simde_mm256_set1_epi32(v); }
  static I low_nibbles(I v) { return simde_mm256_and_si256(v, simde_mm256_set1_epi8(0x0f)); }
  static I high_nibbles(I v) { return low_nibbles(simde_mm256_srli_epi16(v, 4)); }
  static I dpbusd(I acc, I u, I s) {
#if defined(__AVXVNNI__) && !defined(SIMDE_X86_AVX512VNNI_NATIVE)
    return _mm256_dpbusd_avx_epi32(acc, u, s);  // the VEX form: AVX-VNNI without AVX-512
#else
    return simde_mm256_dpbusd_epi32(acc, u, s);  // native with AVX-512 VNNI+VL, else emulated
#endif
  }
  static F zero() { return simde_mm256_setzero_ps(); }
  static F loadf(const float* p) { return simde_mm256_loadu_ps(p); }
  static F set1_f(float v) { return simde_mm256_set1_ps(v); }
  static F mul(F a, F b) { return simde_mm256_mul_ps(a, b); }
  static F add(F a, F b) { return simde_mm256_add_ps(a, b); }
  static F fmadd(F a, F b, F c) { return simde_mm256_fmadd_ps(a, b, c); }
  static F to_float(I v) { return simde_mm256_cvtepi32_ps(v); }
  static void storef(float* p, F v) { simde_mm256_storeu_ps(p, v); }
};

// Activation bytes [off, off + 4) in every 32-bit lane.
template <typename V>
inline typename V::I bcast4(const int8_t* q, int64_t off) {
  int32_t v;
  std::memcpy(&v, q + off, 4);
  return V::set1_i32(v);
}

template <typename V, int R>
inline void store_tile(const typename V::F (&acc)[R], const float* bias, float* y, int64_t ldy, int cols) {
  for (int r = 0; r < R; ++r) {
    if (cols == V::kRows) {
      typename V::F v = acc[r];
      if (bias) v = V::add(v, V::loadf(bias));
      V::storef(y + r * ldy, v);
    } else {
      float t[V::kRows];
      V::storef(t, acc[r]);
      for (int i = 0; i < cols; ++i) y[r * ldy + i] = t[i] + (bias ? bias[i] : 0.0f);
    }
  }
}

// Q4 selects the type: Q4_0 (4 stored vectors, each two of nibbles) or Q8_0 (8 vectors).
template <typename V, bool Q4, int R>
void tile(const uint8_t* g, int64_t nb, const QGemmActs& a, const float* bias, float* y, int64_t ldy, int cols) {
  constexpr size_t kBlockBytes = Q4 ? V::kBlockQ4 : V::kBlockQ8;
  constexpr int64_t kVectorBytes = 4 * V::kRows;
  constexpr int32_t kOffset = Q4 ? 8 : 128;
  typename V::F acc[R];
  for (int r = 0; r < R; ++r) acc[r] = V::zero();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = g + b * kBlockBytes;
    const uint8_t* qv = blk + V::kRows * sizeof(float);
    // Vector j holds elements 4j..4j+3 of every row (for Q4_0: the low nibbles of stored
    // vector c are elements 4c.., the high nibbles 16+4c..), kept in registers while every
    // activation row of the tile passes over them.
    typename V::I w[8];
    if constexpr (Q4) {
      for (int c = 0; c < 4; ++c) {
        const typename V::I raw = V::load(qv + kVectorBytes * c);
        w[c] = V::low_nibbles(raw);
        w[c + 4] = V::high_nibbles(raw);
      }
    } else {
      for (int j = 0; j < 8; ++j) w[j] = V::load(qv + kVectorBytes * j);
    }
    const typename V::F dw = V::loadf(reinterpret_cast<const float*>(blk));
    for (int r = 0; r < R; ++r) {
      const int8_t* q = a.q + r * a.q_stride + b * kQK;
      typename V::I s = V::set1_i32(-kOffset * a.sums[r * a.sums_stride + b]);
      for (int j = 0; j < 8; ++j) s = V::dpbusd(s, w[j], bcast4<V>(q, 4 * j));
      acc[r] = V::fmadd(V::to_float(s), V::mul(dw, V::set1_f(a.d[r * a.d_stride + b])), acc[r]);
    }
  }
  store_tile<V, R>(acc, bias, y, ldy, cols);
}

template <typename V, bool Q4>
void panel(const uint8_t* g, int64_t nb, const QGemmActs& a, int64_t m, const float* bias, float* y, int64_t ldy, int cols) {
  constexpr int kTileM = V::kTileM;
  QGemmActs t = a;
  int64_t r = 0;
  for (; r + kTileM <= m; r += kTileM) {
    tile<V, Q4, kTileM>(g, nb, t, bias, y + r * ldy, ldy, cols);
    t.q += kTileM * a.q_stride;
    t.d += kTileM * a.d_stride;
    t.sums += kTileM * a.sums_stride;
  }
  static_assert(kTileM <= 8, "the tail below handles up to 7 rows");
  float* yr = y + r * ldy;
  switch (m - r) {
    case 1: tile<V, Q4, 1>(g, nb, t, bias, yr, ldy, cols); break;
    case 2: tile<V, Q4, 2>(g, nb, t, bias, yr, ldy, cols); break;
    case 3: tile<V, Q4, 3>(g, nb, t, bias, yr, ldy, cols); break;
    case 4: tile<V, Q4, 4>(g, nb, t, bias, yr, ldy, cols); break;
    case 5: tile<V, Q4, 5>(g, nb, t, bias, yr, ldy, cols); break;
    case 6: tile<V, Q4, 6>(g, nb, t, bias, yr, ldy, cols); break;
    case 7: tile<V, Q4, 7>(g, nb, t, bias, yr, ldy, cols); break;
    default: break;
  }
}

inline QGemmTable zmm_table(const char* name) {
  QGemmTable t;
  t.q8_0 = {kX16Rows, kX16BlockBytesQ8, pack_q8_0_x16, panel<Zmm, false>};
  t.q4_0 = {kX16Rows, kX16BlockBytesQ4, pack_q4_0_x16, panel<Zmm, true>};
  t.name = name;
  return t;
}

inline QGemmTable ymm_table(const char* name) {
  QGemmTable t;
  t.q8_0 = {kX8Rows, kX8BlockBytesQ8, pack_q8_0_x8u, panel<Ymm, false>};
  t.q4_0 = {kX8Rows, kX8BlockBytesQ4, pack_q4_0_x8, panel<Ymm, true>};
  t.name = name;
  return t;
}

}  // namespace vnni_qgemm

}  // namespace
}  // namespace edgevl

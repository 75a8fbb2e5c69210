// AVX-512 VNNI micro-kernels of the integer prefill GEMM on the x16 layout (qgemm.h).
//
// Written against SIMDe's names (simde_mm512_*, Debian's libsimde-dev): compiled with the
// AVX-512 flags (qgemm_avx512.cpp) each call is the native intrinsic, and compiled without
// them (tests/test_kernels_qgemm_avx512.cpp) SIMDe emulates it, so these kernels are tested
// against the scalar reference on every x86 machine, not only on CPUs that have AVX-512.
// Everything here has internal linkage: each includer gets its own copy for its own flags.
//
// A tile is R activation rows x one group of 16 weight rows, one f32 accumulator per
// activation row whose lane i is weight row i. Per block, each 64-byte weight vector holds 4
// elements of each of the 16 rows, stored as unsigned bytes (Q4_0: the nibbles, w + 8;
// Q8_0: w ^ 0x80 = w + 128). The 4 matching activation bytes are broadcast to every lane
// and vpdpbusd adds lane i's 4 products to row i's int32 sum, which starts at -offset·Σq so
// that it ends as the exact signed dot product. One FMA per block applies the 16 scales.
#pragma once
#include <simde/x86/avx512.h>

#include <cstring>

#include "kernels/qgemm.h"
#include "kernels/quant.h"

namespace edgevl {
namespace {

namespace avx512_qgemm {

// Activation bytes [off, off + 4) in every 32-bit lane.
inline simde__m512i bcast4(const int8_t* q, int64_t off) {
  int32_t v;
  std::memcpy(&v, q + off, 4);
  return simde_mm512_set1_epi32(v);
}

inline simde__m512i load64(const uint8_t* p) { return simde_mm512_loadu_si512(p); }

// int32 -> f32 per lane (SIMDe 0.7.4 has no simde_mm512_cvtepi32_ps; the values here are
// exact in f32 either way).
inline simde__m512 to_float(simde__m512i v) {
#if defined(SIMDE_X86_AVX512F_NATIVE)
  return _mm512_cvtepi32_ps(v);
#else
  int32_t in[16];
  float out[16];
  simde_mm512_storeu_si512(in, v);
  for (int i = 0; i < 16; ++i) out[i] = static_cast<float>(in[i]);
  return simde_mm512_loadu_ps(out);
#endif
}

template <int R>
inline void store_tile(const simde__m512 (&acc)[R], const float* bias, float* y, int64_t ldy, int cols) {
  for (int r = 0; r < R; ++r) {
    if (cols == kX16Rows) {
      simde__m512 v = acc[r];
      if (bias) v = simde_mm512_add_ps(v, simde_mm512_loadu_ps(bias));
      simde_mm512_storeu_ps(y + r * ldy, v);
    } else {
      float t[kX16Rows];
      simde_mm512_storeu_ps(t, acc[r]);
      for (int i = 0; i < cols; ++i) y[r * ldy + i] = t[i] + (bias ? bias[i] : 0.0f);
    }
  }
}

// Q4 selects the type: Q4_0 (4 stored vectors, each two of nibbles) or Q8_0 (8 vectors).
template <bool Q4, int R>
void tile(const uint8_t* g, int64_t nb, const QGemmActs& a, const float* bias, float* y, int64_t ldy, int cols) {
  constexpr size_t kBlockBytes = Q4 ? kX16BlockBytesQ4 : kX16BlockBytesQ8;
  constexpr int32_t kOffset = Q4 ? 8 : 128;
  const simde__m512i low = simde_mm512_set1_epi8(0x0f);
  simde__m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = simde_mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = g + b * kBlockBytes;
    const uint8_t* qv = blk + kX16Rows * sizeof(float);
    // Vector j holds elements 4j..4j+3 of every row (for Q4_0: the low nibbles of stored
    // vector c are elements 4c.., the high nibbles 16+4c..), kept in registers while every
    // activation row of the tile passes over them.
    simde__m512i w[8];
    if constexpr (Q4) {
      for (int c = 0; c < 4; ++c) {
        const simde__m512i raw = load64(qv + 64 * c);
        w[c] = simde_mm512_and_si512(raw, low);
        w[c + 4] = simde_mm512_and_si512(simde_mm512_srli_epi16(raw, 4), low);
      }
    } else {
      for (int j = 0; j < 8; ++j) w[j] = load64(qv + 64 * j);
    }
    const simde__m512 dw = simde_mm512_loadu_ps(reinterpret_cast<const float*>(blk));
    for (int r = 0; r < R; ++r) {
      const int8_t* q = a.q + r * a.q_stride + b * kQK;
      simde__m512i s = simde_mm512_set1_epi32(-kOffset * a.sums[r * a.sums_stride + b]);
      for (int j = 0; j < 8; ++j) s = simde_mm512_dpbusd_epi32(s, w[j], bcast4(q, 4 * j));
      const simde__m512 scale = simde_mm512_mul_ps(dw, simde_mm512_set1_ps(a.d[r * a.d_stride + b]));
      acc[r] = simde_mm512_fmadd_ps(to_float(s), scale, acc[r]);
    }
  }
  store_tile<R>(acc, bias, y, ldy, cols);
}

// Activation rows per tile: 8 weight vectors + 8 accumulators + temporaries fit the 32
// vector registers.
constexpr int kTileM = 8;

template <bool Q4>
void panel(const uint8_t* g, int64_t nb, const QGemmActs& a, int64_t m, const float* bias, float* y, int64_t ldy, int cols) {
  QGemmActs t = a;
  int64_t r = 0;
  for (; r + kTileM <= m; r += kTileM) {
    tile<Q4, kTileM>(g, nb, t, bias, y + r * ldy, ldy, cols);
    t.q += kTileM * a.q_stride;
    t.d += kTileM * a.d_stride;
    t.sums += kTileM * a.sums_stride;
  }
  float* yr = y + r * ldy;
  switch (m - r) {
    case 1: tile<Q4, 1>(g, nb, t, bias, yr, ldy, cols); break;
    case 2: tile<Q4, 2>(g, nb, t, bias, yr, ldy, cols); break;
    case 3: tile<Q4, 3>(g, nb, t, bias, yr, ldy, cols); break;
    case 4: tile<Q4, 4>(g, nb, t, bias, yr, ldy, cols); break;
    case 5: tile<Q4, 5>(g, nb, t, bias, yr, ldy, cols); break;
    case 6: tile<Q4, 6>(g, nb, t, bias, yr, ldy, cols); break;
    case 7: tile<Q4, 7>(g, nb, t, bias, yr, ldy, cols); break;
    default: break;
  }
}

inline QGemmTable table(const char* name) {
  QGemmTable t;
  t.q8_0 = {kX16Rows, kX16BlockBytesQ8, pack_q8_0_x16, panel<false>};
  t.q4_0 = {kX16Rows, kX16BlockBytesQ4, pack_q4_0_x16, panel<true>};
  t.name = name;
  return t;
}

}  // namespace avx512_qgemm

}  // namespace
}  // namespace edgevl

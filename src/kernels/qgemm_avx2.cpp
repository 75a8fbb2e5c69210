// AVX2 micro-kernels of the integer prefill GEMM on the x8 layout (qgemm.h).
// Compiled with -mavx2 -mfma -mf16c; only called after cpu_features() confirmed support.
//
// A tile is R activation rows x one group of 8 weight rows, one f32 accumulator vector per
// activation row whose lane i is weight row i. Per block, each 32-byte weight vector holds
// 4 elements of each of the 8 rows; the 4 matching activation bytes are broadcast to all
// lanes, and _mm256_maddubs_epi16 + _mm256_madd_epi16 leave lane i = row i's 4-element
// partial sum, so no horizontal sums are needed and one FMA applies the 8 block scales.
//   Q4_0: the nibbles (0..15) are maddubs' unsigned operand as they are; a block's 8
//   pair sums (each ≤ 2·15·127) add up to ≤ 30480, inside int16, so they are summed in
//   int16 and widened once,
//   then 8·Σq is subtracted in int32 (exact: the reference's integer sum).
//   Q8_0: |w| is the unsigned operand and w's sign moves onto the activation (as in
//   qdot_avx2.cpp); a product pair reaches 2·128·127, so each is widened before summing.
#include <immintrin.h>

#include <cstring>

#include "kernels/qgemm.h"
#include "kernels/quant.h"

namespace edgevl {

namespace {

// Activation row r's 4 bytes at element offset e of block b, in every 32-bit lane.
inline __m256i bcast4(const int8_t* q, int64_t off) {
  int32_t v;
  std::memcpy(&v, q + off, 4);
  return _mm256_set1_epi32(v);
}

inline __m256i load32(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

template <int R>
inline void store_tile(const __m256 (&acc)[R], const float* bias, float* y, int64_t ldy, int cols) {
  const __m256 bv = bias ? (cols == 8 ? _mm256_loadu_ps(bias) : _mm256_setzero_ps()) : _mm256_setzero_ps();
  for (int r = 0; r < R; ++r) {
    if (cols == 8) {
      _mm256_storeu_ps(y + r * ldy, _mm256_add_ps(acc[r], bv));
    } else {
      alignas(32) float t[8];
      _mm256_store_ps(t, acc[r]);
      for (int i = 0; i < cols; ++i) y[r * ldy + i] = t[i] + (bias ? bias[i] : 0.0f);
    }
  }
}

template <int R>
void tile_q4_0(const uint8_t* g, int64_t nb, const QGemmActs& a, const float* bias, float* y, int64_t ldy, int cols) {
  const __m256i low = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = g + b * kX8BlockBytesQ4;
    const uint8_t* qv = blk + 32;
    // The block's 8 weight vectors (elements 4j..4j+3 of each row in vector j), kept in
    // registers while every activation row of the tile passes over them.
    __m256i w[8];
    for (int c = 0; c < 4; ++c) {
      const __m256i raw = load32(qv + 32 * c);
      w[c] = _mm256_and_si256(raw, low);
      w[c + 4] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low);
    }
    const __m256 dw = _mm256_loadu_ps(reinterpret_cast<const float*>(blk));
    for (int r = 0; r < R; ++r) {
      const int8_t* q = a.q + r * a.q_stride + b * kQK;
      __m256i s16 = _mm256_maddubs_epi16(w[0], bcast4(q, 0));
      for (int j = 1; j < 8; ++j) s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(w[j], bcast4(q, 4 * j)));
      const __m256i s32 = _mm256_sub_epi32(_mm256_madd_epi16(s16, ones), _mm256_set1_epi32(8 * a.sums[r * a.sums_stride + b]));
      const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(a.d[r * a.d_stride + b]));
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32), scale, acc[r]);
    }
  }
  store_tile<R>(acc, bias, y, ldy, cols);
}

template <int R>
void tile_q8_0(const uint8_t* g, int64_t nb, const QGemmActs& a, const float* bias, float* y, int64_t ldy, int cols) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = g + b * kX8BlockBytesQ8;
    const uint8_t* qv = blk + 32;
    __m256i s32[R];
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      const __m256i w = load32(qv + 32 * j);
      const __m256i aw = _mm256_sign_epi8(w, w);
      for (int r = 0; r < R; ++r) {
        const __m256i act = _mm256_sign_epi8(bcast4(a.q + r * a.q_stride + b * kQK, 4 * j), w);
        const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, act), ones);
        s32[r] = j == 0 ? p : _mm256_add_epi32(s32[r], p);
      }
    }
    const __m256 dw = _mm256_loadu_ps(reinterpret_cast<const float*>(blk));
    for (int r = 0; r < R; ++r) {
      const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(a.d[r * a.d_stride + b]));
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32[r]), scale, acc[r]);
    }
  }
  store_tile<R>(acc, bias, y, ldy, cols);
}

// Activation rows per tile. On Zen 3 (M = 64, 1536 x 1536, one thread) 4 rows beat 2, 3,
// 5 and 6 for Q4_0 and were level with 2 for Q8_0, within the noise of a shared machine.
// Beyond 4 the accumulators no longer fit the 16 vector registers beside the 8 weights.
constexpr int kTileM = 4;

template <template <int> class Tile>
void panel(const uint8_t* g, int64_t nb, const QGemmActs& a, int64_t m, const float* bias, float* y, int64_t ldy, int cols) {
  QGemmActs t = a;
  int64_t r = 0;
  for (; r + kTileM <= m; r += kTileM) {
    Tile<kTileM>::run(g, nb, t, bias, y + r * ldy, ldy, cols);
    t.q += kTileM * a.q_stride;
    t.d += kTileM * a.d_stride;
    t.sums += kTileM * a.sums_stride;
  }
  static_assert(kTileM <= 4, "the tail below handles up to 3 rows");
  switch (m - r) {
    case 1: Tile<1>::run(g, nb, t, bias, y + r * ldy, ldy, cols); break;
    case 2: Tile<2>::run(g, nb, t, bias, y + r * ldy, ldy, cols); break;
    case 3: Tile<3>::run(g, nb, t, bias, y + r * ldy, ldy, cols); break;
    default: break;
  }
}

template <int R>
struct Q4Tile {
  static void run(const uint8_t* g, int64_t nb, const QGemmActs& a, const float* bias, float* y, int64_t ldy, int cols) {
    tile_q4_0<R>(g, nb, a, bias, y, ldy, cols);
  }
};
template <int R>
struct Q8Tile {
  static void run(const uint8_t* g, int64_t nb, const QGemmActs& a, const float* bias, float* y, int64_t ldy, int cols) {
    tile_q8_0<R>(g, nb, a, bias, y, ldy, cols);
  }
};

}  // namespace

QGemmTable qgemm_table_avx2() {
  QGemmTable t;
  t.q8_0 = {kX8Rows, kX8BlockBytesQ8, pack_q8_0_x8, panel<Q8Tile>};
  t.q4_0 = {kX8Rows, kX8BlockBytesQ4, pack_q4_0_x8, panel<Q4Tile>};
  t.name = "avx2";
  return t;
}

}  // namespace edgevl

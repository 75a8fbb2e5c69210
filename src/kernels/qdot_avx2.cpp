// AVX2 integer dots for Q8_0 / Q4_0 weights against int8-quantized activations.
// Compiled with -mavx2 -mfma -mf16c; only called after cpu_features() confirmed support.
//
// Per 32-element block: _mm256_maddubs_epi16 multiplies unsigned by signed bytes, so the
// weight's sign is moved onto the activation (|w| · sign(a, w)); |w| ≤ 128 and |a| ≤ 127
// keep each pair sum ≤ 32512, inside int16. _mm256_madd_epi16 widens to 8 int32 lanes,
// which are converted and accumulated in f32 with the block's scale d_w·d_x.
#include <immintrin.h>

#include <cstring>

#include "kernels/avx2_util.h"
#include "kernels/qdot.h"
#include "kernels/quant.h"

namespace edgevl {

namespace {

using avx2::f16_at;
using avx2::hsum;

// 8 int32 partial sums of w[i]·a[i] over 32 signed bytes.
inline __m256i mul_sum_i8(__m256i w, __m256i a) {
  const __m256i ax = _mm256_sign_epi8(w, w);
  const __m256i sy = _mm256_sign_epi8(a, w);
  return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1));
}

inline int32_t hsum_i32(__m256i v) {
  __m128i t = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
  t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
  return _mm_cvtsi128_si32(t);
}

inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Q4_0 block nibbles -> 32 unsigned bytes 0..15 in element order: low nibbles are elements
// 0..15, high nibbles 16..31. The -8 offset is applied once per block through the
// activation block sum (d[nb + b] = d_x·Σq), so maddubs takes the nibbles as they are.
inline __m256i load_q4(const uint8_t* qs) {
  // Broadcast the 16 bytes to both lanes, shift the upper lane's nibbles down by 4, mask:
  // 3 instructions for 32 nibbles (the loads are folded into vbroadcasti128).
  const __m256i b = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  const __m256i sh = _mm256_srlv_epi32(b, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4));
  return _mm256_and_si256(sh, _mm256_set1_epi8(0x0f));
}

struct Q8W {
  static constexpr size_t kBytes = sizeof(BlockQ8_0);
  static constexpr bool kOffset = false;
  static __m256i load(const uint8_t* blk) { return load32(blk + 2); }
  static __m256i mul(__m256i w, __m256i a) { return mul_sum_i8(w, a); }
  // For tiles: |w| computed once per block, the sign moved onto each activation.
  static __m256i unsigned_part(__m256i w) { return _mm256_sign_epi8(w, w); }
  static __m256i mul_split(__m256i w, __m256i absw, __m256i a) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(absw, _mm256_sign_epi8(a, w)), _mm256_set1_epi16(1));
  }
};
struct Q4W {
  static constexpr size_t kBytes = sizeof(BlockQ4_0);
  static constexpr bool kOffset = true;  // weight = nibble - 8
  static __m256i load(const uint8_t* blk) { return load_q4(blk + 2); }
  static __m256i mul(__m256i w, __m256i a) { return _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), _mm256_set1_epi16(1)); }
  static __m256i unsigned_part(__m256i w) { return w; }  // nibbles are unsigned already
  static __m256i mul_split(__m256i, __m256i w, __m256i a) { return mul(w, a); }
};

// Decode streams each weight row once from DRAM; asking for the bytes this far ahead
// keeps more cache-line fills in flight than the hardware prefetcher alone does.
constexpr int kPrefetchBytes = 1024;  // measured: Q4_0 decode +8-10% at 640-1280, Q8_0 unchanged

template <typename W>
float dot_row(const uint8_t* w, const int8_t* q, const float* d, int64_t nb) {
  static_assert(!W::kOffset, "Q4_0 rows have their own kernel, dot_row_q4_0");
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    const uint8_t* w0 = w + b * W::kBytes;
    const uint8_t* w1 = w0 + W::kBytes;
    _mm_prefetch(reinterpret_cast<const char*>(w0) + kPrefetchBytes, _MM_HINT_T0);
    const __m256i p0 = W::mul(W::load(w0), load32(q + b * kQK));
    const __m256i p1 = W::mul(W::load(w1), load32(q + (b + 1) * kQK));
    const float dw0 = f16_at(w0), dw1 = f16_at(w1);
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(dw0 * d[b]), _mm256_cvtepi32_ps(p0), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_set1_ps(dw1 * d[b + 1]), _mm256_cvtepi32_ps(p1), acc1);
  }
  if (b < nb) {
    const uint8_t* w0 = w + b * W::kBytes;
    const __m256i p0 = W::mul(W::load(w0), load32(q + b * kQK));
    const float dw0 = f16_at(w0);
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(dw0 * d[b]), _mm256_cvtepi32_ps(p0), acc0);
  }
  return hsum(_mm256_add_ps(acc0, acc1));
}

// Q4_0 decode, four blocks a step. Hot in cache, Q4_0 rows done as dot_row does Q8_0 ones
// read only ~8 GB/s of weights per Zen 3 core, less than one core's share of DRAM bandwidth,
// so this kernel, not memory, sets Q4_0 decode's pace there: per block a scalar f16
// conversion, a multiply, a broadcast, and a scalar FMA of the offset correction on one
// dependency chain. Here three hadds fold the four blocks' int32 lanes into one vector
// [b0 b1 b2 b3 | b0 b1 b2 b3], the four f16 scales are converted by one instruction and
// multiplied by the activation scales as a vector, and the correction is one vector FMA a step. Measured hot (128 x 1536,
// one thread, Zen 3 VM under load, medians of 20): 11.3-11.9 us against 12.5-12.9 us.
float dot_row_q4_0(const uint8_t* w, const int8_t* q, const float* d, int64_t nb) {
  constexpr size_t kB = sizeof(BlockQ4_0);
  const float* sums = d + nb;
  __m256 acc = _mm256_setzero_ps();
  __m128 corr4 = _mm_setzero_ps();
  int64_t b = 0;
  for (; b + 4 <= nb; b += 4) {
    const uint8_t* w0 = w + b * kB;
    _mm_prefetch(reinterpret_cast<const char*>(w0) + kPrefetchBytes, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(w0) + kPrefetchBytes + 64, _MM_HINT_T0);
    const int8_t* qb = q + b * kQK;
    const __m256i p0 = Q4W::mul(load_q4(w0 + 2), load32(qb));
    const __m256i p1 = Q4W::mul(load_q4(w0 + kB + 2), load32(qb + kQK));
    const __m256i p2 = Q4W::mul(load_q4(w0 + 2 * kB + 2), load32(qb + 2 * kQK));
    const __m256i p3 = Q4W::mul(load_q4(w0 + 3 * kB + 2), load32(qb + 3 * kQK));
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
    uint16_t s0, s1, s2, s3;
    std::memcpy(&s0, w0, 2);
    std::memcpy(&s1, w0 + kB, 2);
    std::memcpy(&s2, w0 + 2 * kB, 2);
    std::memcpy(&s3, w0 + 3 * kB, 2);
    const __m128 dw = _mm_cvtph_ps(_mm_setr_epi16(short(s0), short(s1), short(s2), short(s3), 0, 0, 0, 0));
    const __m128 scale = _mm_mul_ps(dw, _mm_loadu_ps(d + b));
    acc = _mm256_fmadd_ps(_mm256_set_m128(scale, scale), _mm256_cvtepi32_ps(h), acc);
    corr4 = _mm_fmadd_ps(dw, _mm_loadu_ps(sums + b), corr4);
  }
  __m128 total = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  total = _mm_sub_ps(total, _mm_mul_ps(_mm_set1_ps(8.0f), corr4));
  total = _mm_add_ps(total, _mm_movehl_ps(total, total));
  float r = _mm_cvtss_f32(_mm_add_ss(total, _mm_shuffle_ps(total, total, 1)));
  for (; b < nb; ++b) {  // the last nb % 4 blocks
    const uint8_t* w0 = w + b * kB;
    const float dw = f16_at(w0);
    r += dw * d[b] * static_cast<float>(hsum_i32(Q4W::mul(load_q4(w0 + 2), load32(q + b * kQK)))) - 8.0f * dw * sums[b];
  }
  return r;
}

template <typename W>
void dot_row_x4(const uint8_t* w, const int8_t* q, int64_t qs, const float* d, int64_t ds, int64_t nb, float* out) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  __m128 corr = _mm_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* wb = w + b * W::kBytes;
    const __m256i wv = W::load(wb);
    const float dw = f16_at(wb);
    const int8_t* qb = q + b * kQK;
    const float* db = d + b;
    a0 = _mm256_fmadd_ps(_mm256_set1_ps(dw * db[0]), _mm256_cvtepi32_ps(W::mul(wv, load32(qb))), a0);
    a1 = _mm256_fmadd_ps(_mm256_set1_ps(dw * db[ds]), _mm256_cvtepi32_ps(W::mul(wv, load32(qb + qs))), a1);
    a2 = _mm256_fmadd_ps(_mm256_set1_ps(dw * db[2 * ds]), _mm256_cvtepi32_ps(W::mul(wv, load32(qb + 2 * qs))), a2);
    a3 = _mm256_fmadd_ps(_mm256_set1_ps(dw * db[3 * ds]), _mm256_cvtepi32_ps(W::mul(wv, load32(qb + 3 * qs))), a3);
    if (W::kOffset) {
      const float* sb = db + nb;
      corr = _mm_fmadd_ps(_mm_set1_ps(dw), _mm_setr_ps(sb[0], sb[ds], sb[2 * ds], sb[3 * ds]), corr);
    }
  }
  alignas(16) float c[4];
  _mm_store_ps(c, corr);
  out[0] = hsum(a0) - 8.0f * c[0];
  out[1] = hsum(a1) - 8.0f * c[1];
  out[2] = hsum(a2) - 8.0f * c[2];
  out[3] = hsum(a3) - 8.0f * c[3];
}

// 2 weight rows x 4 activation rows held in 8 accumulators. Per block each weight is
// loaded (and for Q8_0 made absolute) once for four activations, each activation once
// for two weights; the block scale d_w·d_x is one vector multiply from two broadcasts.
template <typename W>
void dot_rows_2x4(const uint8_t* w, int64_t ws, const int8_t* q, int64_t qs, const float* d, int64_t ds, int64_t nb, float* out) {
  __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
  __m128 corr0 = _mm_setzero_ps(), corr1 = _mm_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* b0 = w + b * W::kBytes;
    const uint8_t* b1 = b0 + ws;
    const __m256i x0 = W::load(b0), x1 = W::load(b1);
    const __m256i u0 = W::unsigned_part(x0), u1 = W::unsigned_part(x1);
    const __m256 dw0 = _mm256_set1_ps(f16_at(b0)), dw1 = _mm256_set1_ps(f16_at(b1));
    const int8_t* qb = q + b * kQK;
    const float* db = d + b;
#define EDGEVL_STEP(j, acc0, acc1)                                                                           \
  {                                                                                                         \
    const __m256i a = load32(qb + (j) * qs);                                                                \
    const __m256 da = _mm256_broadcast_ss(db + (j) * ds);                                                  \
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(W::mul_split(x0, u0, a)), _mm256_mul_ps(dw0, da), acc0);     \
    acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(W::mul_split(x1, u1, a)), _mm256_mul_ps(dw1, da), acc1);     \
  }
    EDGEVL_STEP(0, a00, a10)
    EDGEVL_STEP(1, a01, a11)
    EDGEVL_STEP(2, a02, a12)
    EDGEVL_STEP(3, a03, a13)
#undef EDGEVL_STEP
    if (W::kOffset) {
      const float* sb = db + nb;
      const __m128 s = _mm_setr_ps(sb[0], sb[ds], sb[2 * ds], sb[3 * ds]);
      corr0 = _mm_fmadd_ps(_mm256_castps256_ps128(dw0), s, corr0);
      corr1 = _mm_fmadd_ps(_mm256_castps256_ps128(dw1), s, corr1);
    }
  }
  alignas(16) float c0[4], c1[4];
  _mm_store_ps(c0, corr0);
  _mm_store_ps(c1, corr1);
  out[0] = hsum(a00) - 8.0f * c0[0];
  out[1] = hsum(a01) - 8.0f * c0[1];
  out[2] = hsum(a02) - 8.0f * c0[2];
  out[3] = hsum(a03) - 8.0f * c0[3];
  out[4] = hsum(a10) - 8.0f * c1[0];
  out[5] = hsum(a11) - 8.0f * c1[1];
  out[6] = hsum(a12) - 8.0f * c1[2];
  out[7] = hsum(a13) - 8.0f * c1[3];
}

// o[0..32) = d · q for 32 signed bytes: int8 -> int32 -> f32, one multiply (the reference's arithmetic).
inline void store_scaled(__m256i q, __m256 d, float* o) {
  const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
  _mm256_storeu_ps(o, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo))));
  _mm256_storeu_ps(o + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)))));
  _mm256_storeu_ps(o + 16, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi))));
  _mm256_storeu_ps(o + 24, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)))));
}

void q8_0_row(const uint8_t* w, float* out, int64_t k) {
  for (int64_t b = 0; b < k / kQK; ++b) {
    const uint8_t* blk = w + b * sizeof(BlockQ8_0);
    const __m256 d = _mm256_set1_ps(f16_at(blk));
    const __m256i q = load32(blk + 2);
    store_scaled(q, d, out + b * kQK);
  }
}

void q4_0_row(const uint8_t* w, float* out, int64_t k) {
  for (int64_t b = 0; b < k / kQK; ++b) {
    const uint8_t* blk = w + b * sizeof(BlockQ4_0);
    const __m256 d = _mm256_set1_ps(f16_at(blk));
    // Nibbles in element order (load_q4), minus 8, as signed bytes.
    const __m256i q = _mm256_sub_epi8(load_q4(blk + 2), _mm256_set1_epi8(8));
    store_scaled(q, d, out + b * kQK);
  }
}

// Same bytes as quantize_act_reference: identical IEEE operations, round to nearest even.
void quantize_act(const float* x, int8_t* q, float* d, int64_t k) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const int64_t nb = k / kQK;
  for (int64_t b = 0; b < nb; ++b) {
    const float* v = x + b * kQK;
    __m256 x0 = _mm256_loadu_ps(v), x1 = _mm256_loadu_ps(v + 8), x2 = _mm256_loadu_ps(v + 16), x3 = _mm256_loadu_ps(v + 24);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, x0), _mm256_andnot_ps(sign, x1)),
                             _mm256_max_ps(_mm256_andnot_ps(sign, x2), _mm256_andnot_ps(sign, x3)));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    const float amax = _mm_cvtss_f32(m4);
    d[b] = amax / 127.0f;
    const __m256 id = _mm256_set1_ps(amax != 0 ? 127.0f / amax : 0.0f);
    constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
    const __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(x0, id), kRound));
    const __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(x1, id), kRound));
    const __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(x2, id), kRound));
    const __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(x3, id), kRound));
    // Pack 32 int32 -> 32 int8; packs interleave 128-bit lanes, the permute restores order.
    const __m256i s01 = _mm256_packs_epi32(i0, i1), s23 = _mm256_packs_epi32(i2, i3);
    const __m256i b8 = _mm256_packs_epi16(s01, s23);
    const __m256i ordered = _mm256_permutevar8x32_epi32(b8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + b * kQK), ordered);
    // Σq: maddubs against ones (unsigned 1 × signed q), then pairs to int32.
    const __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), ordered);
    const __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
    d[nb + b] = d[b] * static_cast<float>(hsum_i32(s32));
  }
}

}  // namespace

QDotTable qdot_table_avx2() {
  QDotTable t;
  t.quantize = quantize_act;
  t.q8_0 = dot_row<Q8W>;
  t.q4_0 = dot_row_q4_0;
  t.q8_0_x4 = dot_row_x4<Q8W>;
  t.q4_0_x4 = dot_row_x4<Q4W>;
  t.q8_0_2x4 = dot_rows_2x4<Q8W>;
  t.q4_0_2x4 = dot_rows_2x4<Q4W>;
  t.q8_0_row = q8_0_row;
  t.q4_0_row = q4_0_row;
  t.name = "avx2";
  return t;
}

}  // namespace edgevl

// AVX2 integer dots for the ggml types beyond Q8_0/Q4_0 (Q4_1, Q5_0, Q5_1, Q4_K, Q5_K,
// Q6_K) against the int8 activation blocks of qdot.h. Compiled with -mavx2 -mfma -mf16c;
// only called after cpu_features() confirmed support.
//
// Every weight block is decoded into 32-value sub-blocks of bytes that line up with one
// activation block each, plus a float scale and bias per sub-block:
//   Σ x·a over the sub-block = d_x·(scale·Σ q·q_a) + bias·(d_x·Σ q_a),
// where d_x·Σq_a is the activation's precomputed block sum (qdot.h). Unsigned values
// (0..31) go straight into maddubs; Q6_K's signed values (-32..31) take the sign trick and
// its per-16 scales ride in the madd that widens maddubs' int16 pairs. Sums stay in range:
// a maddubs pair is at most 2·63·127 < 32767, a madd lane at most 2·32·127·127.
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "kernels/kquant.h"
#include "kernels/avx2_util.h"
#include "kernels/qdot.h"
#include "kernels/quant.h"

namespace edgevl {

namespace {

using avx2::f16_at;
using avx2::hsum;

inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// 16 bytes of nibbles (byte j: value j low, value j + 16 high) -> 32 bytes 0..15 in order.
inline __m256i nibbles_16(const uint8_t* qs) {
  const __m256i b = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  const __m256i sh = _mm256_srlv_epi32(b, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4));
  return _mm256_and_si256(sh, _mm256_set1_epi8(0x0f));
}

// Bit e of x -> 0x10 in byte e (the fifth bit of Q5_0/Q5_1 value e).
inline __m256i fifth_bits(const uint8_t* qh) {
  uint32_t x;
  std::memcpy(&x, qh, 4);
  // Byte e takes byte e/8 of x (shuffle within each 128-bit lane; x is in both), then
  // tests bit e%8 of it.
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(x)),
      _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const __m256i bit = _mm256_set1_epi64x(0x8040201008040201LL);
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// One weight block decoded: kSub sub-blocks of 32 values.
template <int kSub>
struct Decoded {
  __m256i q[kSub];     // unsigned 0..31, or signed for Q6_K
  float scale[kSub];   // per sub-block (Q6_K: the block's d; its per-16 scales are in sc16)
  float bias[kSub];
  __m256i sc16[kSub];  // Q6_K only: int16 scale per half (8 lanes each)
};

// ---- types ---------------------------------------------------------------------------

// kSub sub-blocks per block, kBytes per block, kSigned selects the sign trick + sc16.
struct Q41 {
  static constexpr int kSub = 1;
  static constexpr size_t kBytes = sizeof(BlockQ4_1);
  static constexpr bool kSigned = false;
  static void decode(const uint8_t* b, Decoded<1>* o) {
    o->q[0] = nibbles_16(b + 4);
    o->scale[0] = f16_at(b);
    o->bias[0] = f16_at(b + 2);
  }
};
struct Q50 {
  static constexpr int kSub = 1;
  static constexpr size_t kBytes = sizeof(BlockQ5_0);
  static constexpr bool kSigned = false;
  static void decode(const uint8_t* b, Decoded<1>* o) {
    o->q[0] = _mm256_or_si256(nibbles_16(b + 6), fifth_bits(b + 2));
    o->scale[0] = f16_at(b);
    o->bias[0] = -16.0f * o->scale[0];  // x = d·(q - 16)
  }
};
struct Q51 {
  static constexpr int kSub = 1;
  static constexpr size_t kBytes = sizeof(BlockQ5_1);
  static constexpr bool kSigned = false;
  static void decode(const uint8_t* b, Decoded<1>* o) {
    o->q[0] = _mm256_or_si256(nibbles_16(b + 8), fifth_bits(b + 4));
    o->scale[0] = f16_at(b);
    o->bias[0] = f16_at(b + 2);
  }
};

// The eight six-bit scales and mins of a Q4_K/Q5_K block (12 bytes, kquant.h) as floats:
// scale j < 4 is byte j's low 6 bits, min j < 4 byte j + 4's; for j >= 4 the low 4 bits
// come from byte j + 4 (scale: low nibble, min: high nibble) and the top 2 from the spare
// top bits of bytes j - 4 (scale) and j (min).
inline void scales_mins(const uint8_t* s, __m256* sc, __m256* mn) {
  uint32_t w[3];
  std::memcpy(w, s, 12);
  const uint32_t six = 0x3f3f3f3fu, four = 0x0f0f0f0fu, two = 0x03030303u;
  const uint32_t sc_lo = w[0] & six, mn_lo = w[1] & six;
  const uint32_t sc_hi = (w[2] & four) | (((w[0] >> 6) & two) << 4);
  const uint32_t mn_hi = ((w[2] >> 4) & four) | (((w[1] >> 6) & two) << 4);
  const __m128i scb = _mm_set_epi32(0, 0, static_cast<int>(sc_hi), static_cast<int>(sc_lo));
  const __m128i mnb = _mm_set_epi32(0, 0, static_cast<int>(mn_hi), static_cast<int>(mn_lo));
  *sc = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(scb));
  *mn = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(mnb));
}

template <bool kFive>
struct QK45 {
  static constexpr int kSub = 8;
  static constexpr size_t kBytes = kFive ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
  static constexpr bool kSigned = false;
  static void decode(const uint8_t* b, Decoded<8>* o) {
    const float d = f16_at(b), dmin = f16_at(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* qs = b + 16 + (kFive ? 32 : 0);
    const __m256i low4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    const __m256i hb = kFive ? load32(b + 16) : _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      const __m256i v = load32(qs + 32 * c);
      __m256i lo = _mm256_and_si256(v, low4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
      if (kFive) {
        // Bit 2c of qh[l] is value 64c + l's bit 4, bit 2c + 1 that of 64c + 32 + l.
        const __m128i s0 = _mm_cvtsi32_si128(2 * c), s1 = _mm_cvtsi32_si128(2 * c + 1);
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(hb, s0), one), 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(hb, s1), one), 4));
      }
      o->q[2 * c] = lo;
      o->q[2 * c + 1] = hi;
    }
    __m256 sc, mn;
    scales_mins(scales, &sc, &mn);
    _mm256_storeu_ps(o->scale, _mm256_mul_ps(_mm256_set1_ps(d), sc));
    _mm256_storeu_ps(o->bias, _mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(_mm256_set1_ps(dmin), mn)));
  }
};
using Q4K = QK45<false>;
using Q5K = QK45<true>;

// Q6_K's signed values (-32..31) of sub-blocks 4h..4h+3 of block b: value 128h + 32i + l is
// a nibble of ql (i odd: the second 32 bytes; i >= 2: the high nibble) with bits 2i..2i+1
// of qh[l] as its bits 4..5.
inline void q6k_half(const uint8_t* b, int h, __m256i v[4]) {
  const __m256i low4 = _mm256_set1_epi8(0x0f), two = _mm256_set1_epi8(0x30), off = _mm256_set1_epi8(32);
  const __m256i l0 = load32(b + 64 * h), l1 = load32(b + 64 * h + 32), hh = load32(b + 128 + 32 * h);
  v[0] = _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_and_si256(_mm256_slli_epi16(hh, 4), two));
  v[1] = _mm256_or_si256(_mm256_and_si256(l1, low4), _mm256_and_si256(_mm256_slli_epi16(hh, 2), two));
  v[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4), _mm256_and_si256(hh, two));
  v[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4), _mm256_and_si256(_mm256_srli_epi16(hh, 2), two));
  for (int i = 0; i < 4; ++i) v[i] = _mm256_sub_epi8(v[i], off);
}

// Q6_K's 16 int8 scales (at b + 192), sign-extended to int16.
inline __m256i q6k_scales16(const uint8_t* b) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 192)));
}

// Scale 2j in the eight int16 lanes of the low half, 2j + 1 in the high half (the madd
// factor of sub-block j). Scales 2j and 2j + 1 form int32 lane j of s16: broadcast it,
// then pick its low int16 for the low half and its high one for the high half.
inline __m256i q6k_sc16(__m256i s16, int j) {
  const __m256i pick = _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
  return _mm256_shuffle_epi8(_mm256_permutevar8x32_epi32(s16, _mm256_set1_epi32(j)), pick);
}

struct Q6K {
  static constexpr int kSub = 8;
  static constexpr size_t kBytes = sizeof(BlockQ6_K);
  static constexpr bool kSigned = true;
  static void decode(const uint8_t* b, Decoded<8>* o) {
    q6k_half(b, 0, o->q);
    q6k_half(b, 1, o->q + 4);
    const __m256i s16 = q6k_scales16(b);
    const float d = f16_at(b + 208);
    for (int j = 0; j < 8; ++j) {
      o->sc16[j] = q6k_sc16(s16, j);
      o->scale[j] = d;
      o->bias[j] = 0;
    }
  }
};

// 8 int32 partial sums of sub-block j times one activation block.
template <typename T>
inline __m256i mul(const Decoded<T::kSub>& w, int j, __m256i a) {
  if (T::kSigned)
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w.q[j], w.q[j]), _mm256_sign_epi8(a, w.q[j])), w.sc16[j]);
  return _mm256_madd_epi16(_mm256_maddubs_epi16(w.q[j], a), _mm256_set1_epi16(1));
}

// ---- kernels -------------------------------------------------------------------------

template <typename T>
float dot_row(const uint8_t* w, const int8_t* q, const float* d, int64_t nb) {
  __m256 acc = _mm256_setzero_ps();
  float corr = 0;
  const float* sums = d + nb;
  Decoded<T::kSub> dec;
  for (int64_t u = 0; u < nb / T::kSub; ++u) {
    const uint8_t* wb = w + u * T::kBytes;
    _mm_prefetch(reinterpret_cast<const char*>(wb) + 1024, _MM_HINT_T0);
    T::decode(wb, &dec);
    for (int j = 0; j < T::kSub; ++j) {
      const int64_t b = u * T::kSub + j;
      acc = _mm256_fmadd_ps(_mm256_set1_ps(dec.scale[j] * d[b]), _mm256_cvtepi32_ps(mul<T>(dec, j, load32(q + b * kQK))), acc);
      corr += dec.bias[j] * sums[b];
    }
  }
  return hsum(acc) + corr;
}

// Lane j of the result = the sum of the eight int32 lanes of v[j].
inline __m256i lane_sums8(const __m256i v[8]) {
  const __m256i a01 = _mm256_hadd_epi32(v[0], v[1]), a23 = _mm256_hadd_epi32(v[2], v[3]);
  const __m256i a45 = _mm256_hadd_epi32(v[4], v[5]), a67 = _mm256_hadd_epi32(v[6], v[7]);
  // Low half: the first four lanes' sums of v0..v3 (b0) or v4..v7 (b1); high half: the last four.
  const __m256i b0 = _mm256_hadd_epi32(a01, a23), b1 = _mm256_hadd_epi32(a45, a67);
  return _mm256_add_epi32(_mm256_permute2x128_si256(b0, b1, 0x20), _mm256_permute2x128_si256(b0, b1, 0x31));
}

// Decode dot for Q4_K/Q5_K: the eight sub-block integer sums of a block are gathered into
// one vector, so each block costs one int->float conversion and one FMA against the eight
// (weight scale x activation scale) products, and the mins one FMA against the eight
// activation block sums.
template <typename T>
float dot_row_k(const uint8_t* w, const int8_t* q, const float* d, int64_t nb) {
  static_assert(T::kSub == 8 && !T::kSigned, "Q4_K/Q5_K");
  __m256 acc = _mm256_setzero_ps(), acc_bias = _mm256_setzero_ps();
  const float* sums = d + nb;
  Decoded<8> dec;
  __m256i part[8];
  for (int64_t u = 0; u < nb / 8; ++u) {
    const uint8_t* wb = w + u * T::kBytes;
    _mm_prefetch(reinterpret_cast<const char*>(wb) + 1024, _MM_HINT_T0);
    T::decode(wb, &dec);
    const int8_t* qb = q + u * 8 * kQK;
    for (int j = 0; j < 8; ++j) part[j] = mul<T>(dec, j, load32(qb + j * kQK));
    const __m256 dx = _mm256_loadu_ps(d + u * 8);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lane_sums8(part)), _mm256_mul_ps(_mm256_loadu_ps(dec.scale), dx), acc);
    acc_bias = _mm256_fmadd_ps(_mm256_loadu_ps(dec.bias), _mm256_loadu_ps(sums + u * 8), acc_bias);
  }
  return hsum(_mm256_add_ps(acc, acc_bias));
}

// Q6_K decode dot, fused: each 128-value half is decoded and multiplied at once, since a
// whole decoded block (8 value and 8 scale vectors) does not fit the 16 AVX2 registers.
float dot_row_q6k(const uint8_t* w, const int8_t* q, const float* d, int64_t nb) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t u = 0; u < nb / 8; ++u) {
    const uint8_t* b = w + u * sizeof(BlockQ6_K);
    _mm_prefetch(reinterpret_cast<const char*>(b) + 1024, _MM_HINT_T0);
    const __m256i s16 = q6k_scales16(b);
    const int8_t* qb = q + u * 8 * kQK;
    __m256i half[2];
    for (int h = 0; h < 2; ++h) {
      __m256i v[4], p[4];
      q6k_half(b, h, v);
      for (int i = 0; i < 4; ++i) {
        const int j = 4 * h + i;
        const __m256i a = load32(qb + j * kQK);
        p[i] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(v[i], v[i]), _mm256_sign_epi8(a, v[i])), q6k_sc16(s16, j));
      }
      // Low half: the first four lanes' sums of sub-blocks 4h..4h+3; high half: the last four.
      half[h] = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
    }
    const __m256i sums =
        _mm256_add_epi32(_mm256_permute2x128_si256(half[0], half[1], 0x20), _mm256_permute2x128_si256(half[0], half[1], 0x31));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_mul_ps(_mm256_set1_ps(f16_at(b + 208)), _mm256_loadu_ps(d + u * 8)), acc);
  }
  return hsum(acc);
}

// One weight row against 4 activation rows: each block decoded once for all four.
template <typename T>
void dot_row_x4(const uint8_t* w, const int8_t* q, int64_t qs, const float* d, int64_t ds, int64_t nb, float* out) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  float corr[4] = {0, 0, 0, 0};
  Decoded<T::kSub> dec;
  for (int64_t u = 0; u < nb / T::kSub; ++u) {
    T::decode(w + u * T::kBytes, &dec);
    for (int j = 0; j < T::kSub; ++j) {
      const int64_t b = u * T::kSub + j;
      for (int r = 0; r < 4; ++r) {
        const float* dr = d + r * ds;
        acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(dec.scale[j] * dr[b]), _mm256_cvtepi32_ps(mul<T>(dec, j, load32(q + r * qs + b * kQK))),
                                 acc[r]);
        corr[r] += dec.bias[j] * dr[nb + b];
      }
    }
  }
  for (int r = 0; r < 4; ++r) out[r] = hsum(acc[r]) + corr[r];
}

// ---- row widening for sgemm panels: ggml's dequantized values exactly ----------------
// (this file is built with -ffp-contract=off, so each multiply and add rounds on its own
// as in ggml's scalar code; the dot kernels above use explicit FMAs.)

// o[0..32) = q·s + b for 32 signed bytes; s and b per 16 values (lo half, hi half).
inline void widen32(__m256i q, float s_lo, float s_hi, float b_lo, float b_hi, bool add, float* o) {
  const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
  const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
  for (int p = 0; p < 4; ++p) {
    const __m256 s = _mm256_set1_ps(p < 2 ? s_lo : s_hi);
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[p])), s);
    if (add) v = _mm256_add_ps(v, _mm256_set1_ps(p < 2 ? b_lo : b_hi));
    _mm256_storeu_ps(o + 8 * p, v);
  }
}

// ggml: q·d + m (Q4_1, Q5_1), d·sc·q - dmin·m (Q4_K, Q5_K; + (-m1) equals - m1 exactly).
template <typename T>
void row_affine(const uint8_t* w, float* out, int64_t k) {
  Decoded<T::kSub> dec;
  for (int64_t u = 0; u < k / (kQK * T::kSub); ++u) {
    T::decode(w + u * T::kBytes, &dec);
    for (int j = 0; j < T::kSub; ++j)
      widen32(dec.q[j], dec.scale[j], dec.scale[j], dec.bias[j], dec.bias[j], true, out + (u * T::kSub + j) * kQK);
  }
}

// ggml: (q - 16)·d.
void row_q5_0(const uint8_t* w, float* out, int64_t k) {
  Decoded<1> dec;
  for (int64_t u = 0; u < k / kQK; ++u) {
    Q50::decode(w + u * Q50::kBytes, &dec);
    widen32(_mm256_sub_epi8(dec.q[0], _mm256_set1_epi8(16)), dec.scale[0], dec.scale[0], 0, 0, false, out + u * kQK);
  }
}

// ggml: (d·sc)·q per 16 values.
void row_q6_k(const uint8_t* w, float* out, int64_t k) {
  Decoded<8> dec;
  for (int64_t u = 0; u < k / kQK_K; ++u) {
    const uint8_t* b = w + u * Q6K::kBytes;
    Q6K::decode(b, &dec);
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
    const float d = dec.scale[0];
    for (int j = 0; j < 8; ++j) widen32(dec.q[j], d * sc[2 * j], d * sc[2 * j + 1], 0, 0, false, out + u * kQK_K + j * kQK);
  }
}

template <typename T>
QDotKernels kernels(QRowToF32Fn row) {
  QDotKernels k;
  if constexpr (std::is_same_v<T, Q6K>)
    k.dot = dot_row_q6k;
  else if constexpr (T::kSub == 8)
    k.dot = dot_row_k<T>;
  else
    k.dot = dot_row<T>;
  k.x4 = dot_row_x4<T>;
  k.row = row;
  return k;
}

}  // namespace

void add_kquant_kernels_avx2(QDotTable* t) {
  t->q4_1 = kernels<Q41>(row_affine<Q41>);
  t->q5_0 = kernels<Q50>(row_q5_0);
  t->q5_1 = kernels<Q51>(row_affine<Q51>);
  t->q4_k = kernels<Q4K>(row_affine<Q4K>);
  t->q5_k = kernels<Q5K>(row_affine<Q5K>);
  t->q6_k = kernels<Q6K>(row_q6_k);
}

}  // namespace edgevl

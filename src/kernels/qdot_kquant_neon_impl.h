// NEON integer dots for the ggml types beyond Q8_0/Q4_0 (Q4_1, Q5_0, Q5_1, Q4_K, Q5_K,
// Q6_K) against the int8 activation blocks of qdot.h, as templates over a 16-byte integer
// dot (D::dot16). Included by exactly two files so that each instruction set stays in the
// file compiled for it: qdot_kquant_neon.cpp (baseline AArch64: Cortex-A53/A72) and
// qdot_kquant_neon_dotprod.cpp (+dotprod). Everything here has internal linkage.
//
// The same decomposition as the AVX2 kernels (qdot_kquant_avx2.cpp): each weight block is
// decoded into 32-value sub-blocks that line up with one activation block each, plus a float
// scale and bias per sub-block,
//   Σ x·a over the sub-block = d_x·(scale·Σ q·q_a) + bias·(d_x·Σ q_a),
// with d_x·Σ q_a the activation's precomputed block sum. The unsigned types keep their values
// 0..31 as int8 lanes; Q6_K's values are signed (-32..31) and its per-16 int8 scales multiply
// the two 16-value integer sums before they become float. Integer ranges: a product is at
// most 32·127 in magnitude (activations are within ±127), a 16-value sum 65024, a scaled
// 32-value Q6_K sub-block sum 2·65024·128 = 16646144 < 2^24: every int32 lane, every
// sub-block total, and their conversion to float are exact.
//
// The files including this are built with -ffp-contract=off (CMakeLists.txt): the row
// wideners must round each multiply and add on its own, like ggml's scalar dequantizers;
// the dots use explicit vfmaq.
#pragma once
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstring>

#include "core/fp16.h"
#include "kernels/kquant.h"
#include "kernels/qdot.h"
#include "kernels/quant.h"

namespace edgevl {
namespace {

// 32 weight values of one sub-block: values 0..15 and 16..31.
struct Sub32 {
  int8x16_t lo, hi;
};

// One weight block decoded: kSub sub-blocks of 32 values.
template <int kSub>
struct Decoded {
  Sub32 q[kSub];       // unsigned 0..31, or signed -32..31 for Q6_K
  float scale[kSub];   // per sub-block (Q6_K: the block's d; its per-16 scales are in sc16)
  float bias[kSub];
  int32_t sc16[kSub][2];  // Q6_K only: the integer scale of each 16-value half
};

inline int8x16_t s8(uint8x16_t v) { return vreinterpretq_s8_u8(v); }

// 16 bytes of nibbles (byte j: value j low, value j + 16 high) -> values 0..15 in order.
inline Sub32 nibbles_16(const uint8_t* qs) {
  const uint8x16_t b = vld1q_u8(qs);
  return {s8(vandq_u8(b, vdupq_n_u8(0x0f))), s8(vshrq_n_u8(b, 4))};
}

// Q5_0/Q5_1: bit e of the 32-bit qh is value e's fifth bit; adds 16 to those values.
inline void add_fifth_bits(const uint8_t* qh, Sub32* v) {
  uint32_t x;
  std::memcpy(&x, qh, 4);
  const uint8x8_t h = vcreate_u8(x);
  // Byte e of a half takes qh byte e / 8 and tests its bit e % 8.
  const uint8x16_t bit = vreinterpretq_u8_u64(vdupq_n_u64(0x8040201008040201ULL));
  const uint8x16_t lo = vcombine_u8(vdup_lane_u8(h, 0), vdup_lane_u8(h, 1));
  const uint8x16_t hi = vcombine_u8(vdup_lane_u8(h, 2), vdup_lane_u8(h, 3));
  const uint8x16_t sixteen = vdupq_n_u8(0x10);
  v->lo = vorrq_s8(v->lo, s8(vandq_u8(vtstq_u8(lo, bit), sixteen)));
  v->hi = vorrq_s8(v->hi, s8(vandq_u8(vtstq_u8(hi, bit), sixteen)));
}

// ---- types: kSub sub-blocks per block of kBytes; kHalfScales selects Q6_K's sc16 -----

struct Q41 {
  static constexpr int kSub = 1;
  static constexpr size_t kBytes = sizeof(BlockQ4_1);
  static constexpr bool kHalfScales = false;
  static void decode(const uint8_t* b, Decoded<1>* o) {
    o->q[0] = nibbles_16(b + 4);
    o->scale[0] = f16_at(b);
    o->bias[0] = f16_at(b + 2);
  }
};
struct Q50 {
  static constexpr int kSub = 1;
  static constexpr size_t kBytes = sizeof(BlockQ5_0);
  static constexpr bool kHalfScales = false;
  static void decode(const uint8_t* b, Decoded<1>* o) {
    o->q[0] = nibbles_16(b + 6);
    add_fifth_bits(b + 2, &o->q[0]);
    o->scale[0] = f16_at(b);
    o->bias[0] = -16.0f * o->scale[0];  // x = d·(q - 16)
  }
};
struct Q51 {
  static constexpr int kSub = 1;
  static constexpr size_t kBytes = sizeof(BlockQ5_1);
  static constexpr bool kHalfScales = false;
  static void decode(const uint8_t* b, Decoded<1>* o) {
    o->q[0] = nibbles_16(b + 8);
    add_fifth_bits(b + 4, &o->q[0]);
    o->scale[0] = f16_at(b);
    o->bias[0] = f16_at(b + 2);
  }
};

// Six-bit scale and min j of a Q4_K/Q5_K block (layout: kquant.h).
inline void scale_min(int j, const uint8_t* s, int* sc, int* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
    *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

template <bool kFive>
struct QK45 {
  static constexpr int kSub = 8;
  static constexpr size_t kBytes = kFive ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
  static constexpr bool kHalfScales = false;
  static void decode(const uint8_t* b, Decoded<8>* o) {
    const float d = f16_at(b), dmin = f16_at(b + 2);
    const uint8_t* qs = b + 16 + (kFive ? 32 : 0);
    const uint8x16_t low4 = vdupq_n_u8(0x0f), sixteen = vdupq_n_u8(0x10);
    uint8x16_t qh0 = vdupq_n_u8(0), qh1 = vdupq_n_u8(0);
    if (kFive) {
      qh0 = vld1q_u8(b + 16);
      qh1 = vld1q_u8(b + 32);
    }
    for (int c = 0; c < 4; ++c) {
      // Chunk c: low nibbles are sub-block 2c, high nibbles 2c + 1.
      const uint8x16_t v0 = vld1q_u8(qs + 32 * c), v1 = vld1q_u8(qs + 32 * c + 16);
      uint8x16_t a0 = vandq_u8(v0, low4), a1 = vandq_u8(v1, low4);
      uint8x16_t b0 = vshrq_n_u8(v0, 4), b1 = vshrq_n_u8(v1, 4);
      if (kFive) {
        // Bit 2c of qh[l]: value 64c + l's bit 4; bit 2c + 1: value 64c + 32 + l's.
        const uint8x16_t m0 = vdupq_n_u8(static_cast<uint8_t>(1u << (2 * c)));
        const uint8x16_t m1 = vdupq_n_u8(static_cast<uint8_t>(2u << (2 * c)));
        a0 = vorrq_u8(a0, vandq_u8(vtstq_u8(qh0, m0), sixteen));
        a1 = vorrq_u8(a1, vandq_u8(vtstq_u8(qh1, m0), sixteen));
        b0 = vorrq_u8(b0, vandq_u8(vtstq_u8(qh0, m1), sixteen));
        b1 = vorrq_u8(b1, vandq_u8(vtstq_u8(qh1, m1), sixteen));
      }
      o->q[2 * c] = {s8(a0), s8(a1)};
      o->q[2 * c + 1] = {s8(b0), s8(b1)};
    }
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      scale_min(j, b + 4, &sc, &m);
      o->scale[j] = d * sc;
      o->bias[j] = -(dmin * m);
    }
  }
};
using Q4K = QK45<false>;
using Q5K = QK45<true>;

struct Q6K {
  static constexpr int kSub = 8;
  static constexpr size_t kBytes = sizeof(BlockQ6_K);
  static constexpr bool kHalfScales = true;
  // Value 128h + 32i + l (kquant.h): nibble of ql[64h + 32(i & 1) + l] (high for i >= 2)
  // with bits 2i..2i+1 of qh[32h + l] on top, minus 32. One 16-byte slice l0..l0+15.
  static void decode16(const uint8_t* ql, const uint8_t* qh, int8x16_t out[4]) {
    const uint8x16_t l0 = vld1q_u8(ql), l1 = vld1q_u8(ql + 32), hh = vld1q_u8(qh);
    const uint8x16_t low4 = vdupq_n_u8(0x0f), two = vdupq_n_u8(0x30);
    const int8x16_t off = vdupq_n_s8(32);
    out[0] = vsubq_s8(s8(vorrq_u8(vandq_u8(l0, low4), vandq_u8(vshlq_n_u8(hh, 4), two))), off);
    out[1] = vsubq_s8(s8(vorrq_u8(vandq_u8(l1, low4), vandq_u8(vshlq_n_u8(hh, 2), two))), off);
    out[2] = vsubq_s8(s8(vorrq_u8(vshrq_n_u8(l0, 4), vandq_u8(hh, two))), off);
    out[3] = vsubq_s8(s8(vorrq_u8(vshrq_n_u8(l1, 4), vandq_u8(vshrq_n_u8(hh, 2), two))), off);
  }
  static void decode(const uint8_t* b, Decoded<8>* o) {
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
    const float d = f16_at(b + 208);
    for (int h = 0; h < 2; ++h) {
      int8x16_t first[4], second[4];
      decode16(b + 64 * h, b + 128 + 32 * h, first);
      decode16(b + 64 * h + 16, b + 128 + 32 * h + 16, second);
      for (int i = 0; i < 4; ++i) o->q[4 * h + i] = {first[i], second[i]};
    }
    for (int j = 0; j < 8; ++j) {
      o->sc16[j][0] = sc[2 * j];
      o->sc16[j][1] = sc[2 * j + 1];
      o->scale[j] = d;
      o->bias[j] = 0;
    }
  }
};

// ---- kernels -------------------------------------------------------------------------

// Σ q·q_a of sub-block j against one activation block, in 4 int32 lanes (Q6_K: with its
// per-16 scales applied).
template <typename T, typename D>
inline int32x4_t sub_dot(const Decoded<T::kSub>& w, int j, const int8_t* a) {
  const int8x16_t a0 = vld1q_s8(a), a1 = vld1q_s8(a + 16);
  const int32x4_t zero = vdupq_n_s32(0);
  if (T::kHalfScales) {
    const int32x4_t lo = D::dot16(zero, w.q[j].lo, a0), hi = D::dot16(zero, w.q[j].hi, a1);
    return vmlaq_n_s32(vmulq_n_s32(lo, w.sc16[j][0]), hi, w.sc16[j][1]);
  }
  return D::dot16(D::dot16(zero, w.q[j].lo, a0), w.q[j].hi, a1);
}

// Adds one decoded weight block's dot with one activation row to acc (4 float lanes) and
// *corr; qb, db and sb point at the row's int8 values, scales and scaled sums (d[nb + b])
// for the block's first sub-block.
template <typename T, typename D>
inline float32x4_t block_dot(float32x4_t acc, float* corr, const Decoded<T::kSub>& w, const int8_t* qb, const float* db, const float* sb) {
  if constexpr (T::kSub == 8) {
    // The 8 sub-block sums gathered into two vectors (exact: each is below 2^24, see the
    // top), so that 256 values cost two converts and two FMAs against scale·d_x.
    int32x4_t s[8];
    for (int j = 0; j < 8; ++j) s[j] = sub_dot<T, D>(w, j, qb + j * kQK);
    const int32x4_t lo = vpaddq_s32(vpaddq_s32(s[0], s[1]), vpaddq_s32(s[2], s[3]));
    const int32x4_t hi = vpaddq_s32(vpaddq_s32(s[4], s[5]), vpaddq_s32(s[6], s[7]));
    acc = vfmaq_f32(acc, vcvtq_f32_s32(lo), vmulq_f32(vld1q_f32(w.scale), vld1q_f32(db)));
    acc = vfmaq_f32(acc, vcvtq_f32_s32(hi), vmulq_f32(vld1q_f32(w.scale + 4), vld1q_f32(db + 4)));
    if (!T::kHalfScales) {  // Q6_K has no bias
      acc = vfmaq_f32(acc, vld1q_f32(w.bias), vld1q_f32(sb));
      acc = vfmaq_f32(acc, vld1q_f32(w.bias + 4), vld1q_f32(sb + 4));
    }
    return acc;
  } else {
    static_assert(T::kSub == 1, "sub-blocks per block: 1 or 8");
    *corr += w.bias[0] * sb[0];
    return vfmaq_n_f32(acc, vcvtq_f32_s32(sub_dot<T, D>(w, 0, qb)), w.scale[0] * db[0]);
  }
}

template <typename T, typename D>
float dot_row(const uint8_t* w, const int8_t* q, const float* d, int64_t nb) {
  float32x4_t acc = vdupq_n_f32(0);
  float corr = 0;
  Decoded<T::kSub> dec;
  for (int64_t u = 0; u < nb / T::kSub; ++u) {
    T::decode(w + u * T::kBytes, &dec);
    const int64_t b = u * T::kSub;
    acc = block_dot<T, D>(acc, &corr, dec, q + b * kQK, d + b, d + nb + b);
  }
  return vaddvq_f32(acc) + corr;
}

// One weight row against 4 activation rows: each block decoded once for all four.
template <typename T, typename D>
void dot_row_x4(const uint8_t* w, const int8_t* q, int64_t qs, const float* d, int64_t ds, int64_t nb, float* out) {
  float32x4_t acc[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
  float corr[4] = {0, 0, 0, 0};
  Decoded<T::kSub> dec;
  for (int64_t u = 0; u < nb / T::kSub; ++u) {
    T::decode(w + u * T::kBytes, &dec);
    const int64_t b = u * T::kSub;
    for (int r = 0; r < 4; ++r) acc[r] = block_dot<T, D>(acc[r], &corr[r], dec, q + r * qs + b * kQK, d + r * ds + b, d + r * ds + nb + b);
  }
  for (int r = 0; r < 4; ++r) out[r] = vaddvq_f32(acc[r]) + corr[r];
}

// ---- row widening for sgemm panels: ggml's dequantized values exactly ----------------

// o[0..16) = q·s (+ b): each multiply and add rounded on its own (-ffp-contract=off).
inline void widen16(int8x16_t q, float s, float b, bool add, float* o) {
  const int16x8_t l = vmovl_s8(vget_low_s8(q)), h = vmovl_s8(vget_high_s8(q));
  const int32x4_t parts[4] = {vmovl_s16(vget_low_s16(l)), vmovl_s16(vget_high_s16(l)), vmovl_s16(vget_low_s16(h)),
                              vmovl_s16(vget_high_s16(h))};
  for (int p = 0; p < 4; ++p) {
    float32x4_t v = vmulq_n_f32(vcvtq_f32_s32(parts[p]), s);
    if (add) v = vaddq_f32(v, vdupq_n_f32(b));
    vst1q_f32(o + 4 * p, v);
  }
}

// ggml: q·d + m (Q4_1, Q5_1), d·sc·q - dmin·m (Q4_K, Q5_K; + (-m1) equals - m1 exactly).
template <typename T>
void row_affine(const uint8_t* w, float* out, int64_t k) {
  Decoded<T::kSub> dec;
  for (int64_t u = 0; u < k / (kQK * T::kSub); ++u) {
    T::decode(w + u * T::kBytes, &dec);
    for (int j = 0; j < T::kSub; ++j) {
      float* o = out + (u * T::kSub + j) * kQK;
      widen16(dec.q[j].lo, dec.scale[j], dec.bias[j], true, o);
      widen16(dec.q[j].hi, dec.scale[j], dec.bias[j], true, o + 16);
    }
  }
}

// ggml: (q - 16)·d.
void row_q5_0(const uint8_t* w, float* out, int64_t k) {
  Decoded<1> dec;
  const int8x16_t sixteen = vdupq_n_s8(16);
  for (int64_t u = 0; u < k / kQK; ++u) {
    Q50::decode(w + u * Q50::kBytes, &dec);
    widen16(vsubq_s8(dec.q[0].lo, sixteen), dec.scale[0], 0, false, out + u * kQK);
    widen16(vsubq_s8(dec.q[0].hi, sixteen), dec.scale[0], 0, false, out + u * kQK + 16);
  }
}

// ggml: (d·sc)·q per 16 values.
void row_q6_k(const uint8_t* w, float* out, int64_t k) {
  Decoded<8> dec;
  for (int64_t u = 0; u < k / kQK_K; ++u) {
    Q6K::decode(w + u * Q6K::kBytes, &dec);
    for (int j = 0; j < 8; ++j) {
      float* o = out + u * kQK_K + j * kQK;
      widen16(dec.q[j].lo, dec.scale[j] * static_cast<float>(dec.sc16[j][0]), 0, false, o);
      widen16(dec.q[j].hi, dec.scale[j] * static_cast<float>(dec.sc16[j][1]), 0, false, o + 16);
    }
  }
}

template <typename T, typename D>
QDotKernels kquant_kernels(QRowToF32Fn row) {
  QDotKernels k;
  k.dot = dot_row<T, D>;
  k.x4 = dot_row_x4<T, D>;
  k.row = row;
  return k;
}

// Fills t's Q4_1..Q6_K kernels for block dot D; the row wideners are the same code in both
// files (no dotprod in them).
template <typename D>
void add_kquant_kernels_with(QDotTable* t) {
  t->q4_1 = kquant_kernels<Q41, D>(row_affine<Q41>);
  t->q5_0 = kquant_kernels<Q50, D>(row_q5_0);
  t->q5_1 = kquant_kernels<Q51, D>(row_affine<Q51>);
  t->q4_k = kquant_kernels<Q4K, D>(row_affine<Q4K>);
  t->q5_k = kquant_kernels<Q5K, D>(row_affine<Q5K>);
  t->q6_k = kquant_kernels<Q6K, D>(row_q6_k);
}

}  // namespace
}  // namespace edgevl
#endif

// AVX-512 VNNI row dots for Q8_0 / Q4_0 weights against int8 activations (decode: one
// activation row, every weight row streamed once from memory).
//
// Written against SIMDe's names like qgemm_vnni_impl.h, and for the same reason: compiled
// with the AVX-512 flags (qdot_avx512.cpp) every call is the native instruction, compiled
// without them (tests/test_kernels_qdot_avx512.cpp) SIMDe emulates it, so the kernels are
// checked against the scalar reference on any x86 machine. Internal linkage throughout.
//
// Two blocks per 512-bit vector: lanes 0..7 are block b, lanes 8..15 block b + 1. vpdpbusd
// multiplies unsigned by signed bytes:
//   Q8_0: |w| is the unsigned operand and the activation takes w's sign (a byte mask from the
//         sign bits and a masked negate: AVX-512 has no vpsignb); |w| = 128 fits unsigned.
//   Q4_0: the nibbles (w + 8) are unsigned as they are; 8·Σq is subtracted once per block
//         through the activation block sums (d[nb + b] = d_x·Σq), as in the AVX2 kernels.
#pragma once
#include <simde/x86/avx512.h>

#include <cstring>

#include "core/fp16.h"
#include "kernels/qdot.h"
#include "kernels/quant.h"
#include "kernels/simde_util.h"

namespace edgevl {
namespace {

namespace avx512_qdot {

inline float half_at(const uint8_t* p) {
#if defined(SIMDE_X86_F16C_NATIVE)
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
#else
  return f16_at(p);
#endif
}

inline simde__m512i join(simde__m256i lo, simde__m256i hi) {
  return simde_mm512_inserti64x4(simde_mm512_castsi256_si512(lo), hi, 1);
}

struct Q8 {
  static constexpr size_t kBytes = sizeof(BlockQ8_0);
  static constexpr bool kOffset = false;
  // 16 int32 sums of 4 products: blocks b0 (lanes 0..7) and b1 (lanes 8..15) against a.
  static simde__m512i dot2(const uint8_t* b0, const uint8_t* b1, simde__m512i a) {
    const simde__m512i w = join(simde_mm256_loadu_si256(b0 + 2), simde_mm256_loadu_si256(b1 + 2));
    const simde__mmask64 negative = simde_mm512_movepi8_mask(w);
    const simde__m512i signed_a = simde_mm512_mask_sub_epi8(a, negative, simde_mm512_setzero_si512(), a);
    return simde_mm512_dpbusd_epi32(simde_mm512_setzero_si512(), simde_mm512_abs_epi8(w), signed_a);
  }
};

struct Q4 {
  static constexpr size_t kBytes = sizeof(BlockQ4_0);
  static constexpr bool kOffset = true;  // weight = nibble - 8
  static simde__m512i dot2(const uint8_t* b0, const uint8_t* b1, simde__m512i a) {
    // Each block's 16 bytes in two 128-bit lanes; the second copy shifted down by 4 gives
    // the high nibbles (elements 16..31) after the low ones (elements 0..15).
    const simde__m512i both = join(simde_mm256_broadcastsi128_si256(simde_mm_loadu_si128(b0 + 2)),
                                   simde_mm256_broadcastsi128_si256(simde_mm_loadu_si128(b1 + 2)));
    const simde__m512i shift = simde_mm512_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4, 0, 0, 0, 0, 4, 4, 4, 4);
    const simde__m512i w = simde_mm512_and_si512(simde_mm512_srlv_epi32(both, shift), simde_mm512_set1_epi8(0x0f));
    return simde_mm512_dpbusd_epi32(simde_mm512_setzero_si512(), w, a);
  }
};

// Decode streams each weight row once from DRAM: ask for the bytes ahead, as the AVX2 dot does.
constexpr int kPrefetchBytes = 1024;

// Block b's scale in lanes 0..7, block b + 1's in lanes 8..15.
inline simde__m512 two_scales(float s0, float s1) {
  return simde_mm512_mask_blend_ps(0xff00, simde_mm512_set1_ps(s0), simde_mm512_set1_ps(s1));
}

template <typename W>
float dot_row(const uint8_t* w, const int8_t* q, const float* d, int64_t nb) {
  simde__m512 acc0 = simde_mm512_setzero_ps(), acc1 = simde_mm512_setzero_ps();
  float corr = 0;  // Σ d_w·d_x·Σq (Q4_0 offset)
  const float* sums = d + nb;
  int64_t b = 0;
  for (; b + 4 <= nb; b += 4) {
    const uint8_t* w0 = w + b * W::kBytes;
    __builtin_prefetch(w0 + kPrefetchBytes);
    __builtin_prefetch(w0 + kPrefetchBytes + 64);
    const float s0 = half_at(w0), s1 = half_at(w0 + W::kBytes), s2 = half_at(w0 + 2 * W::kBytes), s3 = half_at(w0 + 3 * W::kBytes);
    const simde__m512i p0 = W::dot2(w0, w0 + W::kBytes, simde_mm512_loadu_si512(q + b * kQK));
    const simde__m512i p1 = W::dot2(w0 + 2 * W::kBytes, w0 + 3 * W::kBytes, simde_mm512_loadu_si512(q + (b + 2) * kQK));
    acc0 = simde_mm512_fmadd_ps(simde_util::i32_to_f32(p0), two_scales(s0 * d[b], s1 * d[b + 1]), acc0);
    acc1 = simde_mm512_fmadd_ps(simde_util::i32_to_f32(p1), two_scales(s2 * d[b + 2], s3 * d[b + 3]), acc1);
    if (W::kOffset) corr += s0 * sums[b] + s1 * sums[b + 1] + s2 * sums[b + 2] + s3 * sums[b + 3];
  }
  for (; b + 2 <= nb; b += 2) {
    const uint8_t* w0 = w + b * W::kBytes;
    const float s0 = half_at(w0), s1 = half_at(w0 + W::kBytes);
    const simde__m512i p = W::dot2(w0, w0 + W::kBytes, simde_mm512_loadu_si512(q + b * kQK));
    acc0 = simde_mm512_fmadd_ps(simde_util::i32_to_f32(p), two_scales(s0 * d[b], s1 * d[b + 1]), acc0);
    if (W::kOffset) corr += s0 * sums[b] + s1 * sums[b + 1];
  }
  if (b < nb) {
    // The last odd block: paired with itself, its activations only in the low half (the row
    // ends here, so no 64-byte load), and a zero scale for the high half.
    const uint8_t* w0 = w + b * W::kBytes;
    const float s0 = half_at(w0);
    const simde__m512i a = simde_mm512_inserti64x4(simde_mm512_setzero_si512(), simde_mm256_loadu_si256(q + b * kQK), 0);
    const simde__m512i p = W::dot2(w0, w0, a);
    acc0 = simde_mm512_fmadd_ps(simde_util::i32_to_f32(p), two_scales(s0 * d[b], 0.0f), acc0);
    if (W::kOffset) corr += s0 * sums[b];
  }
  return simde_util::hsum(simde_mm512_add_ps(acc0, acc1)) - 8.0f * corr;
}

// base with its Q8_0 / Q4_0 row dots replaced by these (the other kernels stay as they are).
inline QDotTable with_dots(QDotTable base, const char* name) {
  base.q8_0 = dot_row<Q8>;
  base.q4_0 = dot_row<Q4>;
  base.name = name;
  return base;
}

}  // namespace avx512_qdot

}  // namespace
}  // namespace edgevl

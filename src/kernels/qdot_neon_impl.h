// NEON integer dots for Q8_0 / Q4_0 weights against int8-quantized activations, as
// templates over the block's integer dot (D::dot). Included by exactly two files so that
// each instruction set stays in the file compiled for it: qdot_neon.cpp (baseline AArch64,
// for cores without dotprod such as the Cortex-A53/A72) and qdot_neon_dotprod.cpp (built
// with +dotprod). Everything here has internal linkage, so the two copies never mix.
#pragma once
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstring>

#include "core/fp16.h"
#include "kernels/qdot.h"
#include "kernels/quant.h"

namespace edgevl {
namespace {

// A weight block as two int8x16 halves (elements 0..15 and 16..31).
struct Q8W {
  static constexpr size_t kBytes = sizeof(BlockQ8_0);
  static constexpr bool kOffset = false;
  static void load(const uint8_t* blk, int8x16_t* lo, int8x16_t* hi) {
    *lo = vld1q_s8(reinterpret_cast<const int8_t*>(blk + 2));
    *hi = vld1q_s8(reinterpret_cast<const int8_t*>(blk + 18));
  }
};
// Nibbles 0..15 as they are (valid signed bytes); the -8 is applied once per block through
// the activation block sum d[nb + b] = d_x·Σq.
struct Q4W {
  static constexpr size_t kBytes = sizeof(BlockQ4_0);
  static constexpr bool kOffset = true;
  static void load(const uint8_t* blk, int8x16_t* lo, int8x16_t* hi) {
    const uint8x16_t b = vld1q_u8(blk + 2);
    *lo = vreinterpretq_s8_u8(vandq_u8(b, vdupq_n_u8(0x0f)));
    *hi = vreinterpretq_s8_u8(vshrq_n_u8(b, 4));
  }
};

// Integer dot of one block: 4 int32 lanes.
struct PlainDot {
  static int32x4_t dot(int8x16_t w0, int8x16_t w1, const int8_t* a) {
    const int8x16_t a0 = vld1q_s8(a), a1 = vld1q_s8(a + 16);
    int16x8_t p0 = vmull_s8(vget_low_s8(w0), vget_low_s8(a0));
    int16x8_t p1 = vmull_s8(vget_high_s8(w0), vget_high_s8(a0));
    int16x8_t p2 = vmull_s8(vget_low_s8(w1), vget_low_s8(a1));
    int16x8_t p3 = vmull_s8(vget_high_s8(w1), vget_high_s8(a1));
    int32x4_t s = vpaddlq_s16(p0);
    s = vpadalq_s16(s, p1);
    s = vpadalq_s16(s, p2);
    return vpadalq_s16(s, p3);
  }
};

template <typename W, typename D>
float dot_row(const uint8_t* w, const int8_t* q, const float* d, int64_t nb) {
  float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
  float corr = 0;
  const float* sums = d + nb;
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    const uint8_t* w0 = w + b * W::kBytes;
    const uint8_t* w1 = w0 + W::kBytes;
    int8x16_t x0, x1, y0, y1;
    W::load(w0, &x0, &x1);
    W::load(w1, &y0, &y1);
    const int32x4_t p0 = D::dot(x0, x1, q + b * kQK);
    const int32x4_t p1 = D::dot(y0, y1, q + (b + 1) * kQK);
    const float dw0 = f16_at(w0), dw1 = f16_at(w1);
    acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(p0), dw0 * d[b]);
    acc1 = vfmaq_n_f32(acc1, vcvtq_f32_s32(p1), dw1 * d[b + 1]);
    if (W::kOffset) corr += dw0 * sums[b] + dw1 * sums[b + 1];
  }
  if (b < nb) {
    const uint8_t* w0 = w + b * W::kBytes;
    int8x16_t x0, x1;
    W::load(w0, &x0, &x1);
    const float dw0 = f16_at(w0);
    acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(D::dot(x0, x1, q + b * kQK)), dw0 * d[b]);
    if (W::kOffset) corr += dw0 * sums[b];
  }
  return vaddvq_f32(vaddq_f32(acc0, acc1)) - 8.0f * corr;
}

template <typename W, typename D>
void dot_row_x4(const uint8_t* w, const int8_t* q, int64_t qs, const float* d, int64_t ds, int64_t nb, float* out) {
  float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(0), a2 = vdupq_n_f32(0), a3 = vdupq_n_f32(0);
  float32x4_t corr = vdupq_n_f32(0);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* wb = w + b * W::kBytes;
    int8x16_t x0, x1;
    W::load(wb, &x0, &x1);
    const float dw = f16_at(wb);
    const int8_t* qb = q + b * kQK;
    const float* db = d + b;
    a0 = vfmaq_n_f32(a0, vcvtq_f32_s32(D::dot(x0, x1, qb)), dw * db[0]);
    a1 = vfmaq_n_f32(a1, vcvtq_f32_s32(D::dot(x0, x1, qb + qs)), dw * db[ds]);
    a2 = vfmaq_n_f32(a2, vcvtq_f32_s32(D::dot(x0, x1, qb + 2 * qs)), dw * db[2 * ds]);
    a3 = vfmaq_n_f32(a3, vcvtq_f32_s32(D::dot(x0, x1, qb + 3 * qs)), dw * db[3 * ds]);
    if (W::kOffset) {
      const float* sb = db + nb;
      const float s4[4] = {sb[0], sb[ds], sb[2 * ds], sb[3 * ds]};
      corr = vfmaq_n_f32(corr, vld1q_f32(s4), dw);
    }
  }
  out[0] = vaddvq_f32(a0) - 8.0f * vgetq_lane_f32(corr, 0);
  out[1] = vaddvq_f32(a1) - 8.0f * vgetq_lane_f32(corr, 1);
  out[2] = vaddvq_f32(a2) - 8.0f * vgetq_lane_f32(corr, 2);
  out[3] = vaddvq_f32(a3) - 8.0f * vgetq_lane_f32(corr, 3);
}

// Same bytes as quantize_act_reference (vcvtnq rounds to nearest even).
// 2 weight rows x 4 activation rows (see QDot2x4Fn): 8 accumulators of 4 lanes.
template <typename W, typename D>
void dot_rows_2x4(const uint8_t* w, int64_t ws, const int8_t* q, int64_t qs, const float* d, int64_t ds, int64_t nb, float* out) {
  float32x4_t acc[2][4];
  for (auto& row : acc)
    for (auto& a : row) a = vdupq_n_f32(0);
  float32x4_t corr[2] = {vdupq_n_f32(0), vdupq_n_f32(0)};
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* wb[2] = {w + b * W::kBytes, w + ws + b * W::kBytes};
    int8x16_t x[2][2];
    W::load(wb[0], &x[0][0], &x[0][1]);
    W::load(wb[1], &x[1][0], &x[1][1]);
    const float dw[2] = {f16_at(wb[0]), f16_at(wb[1])};
    const int8_t* qb = q + b * kQK;
    const float* db = d + b;
    for (int j = 0; j < 4; ++j) {
      const float da = db[j * ds];
      for (int i = 0; i < 2; ++i) acc[i][j] = vfmaq_n_f32(acc[i][j], vcvtq_f32_s32(D::dot(x[i][0], x[i][1], qb + j * qs)), dw[i] * da);
    }
    if (W::kOffset) {
      const float* sb = db + nb;
      const float s4[4] = {sb[0], sb[ds], sb[2 * ds], sb[3 * ds]};
      for (int i = 0; i < 2; ++i) corr[i] = vfmaq_n_f32(corr[i], vld1q_f32(s4), dw[i]);
    }
  }
  for (int i = 0; i < 2; ++i) {
    float c[4];
    vst1q_f32(c, corr[i]);
    for (int j = 0; j < 4; ++j) out[i * 4 + j] = vaddvq_f32(acc[i][j]) - 8.0f * c[j];
  }
}

// d·q per element (the reference's arithmetic), 32 per block.
inline void store_scaled(const int8x16_t q, float d, float* o) {
  const int16x8_t l = vmovl_s8(vget_low_s8(q)), h = vmovl_s8(vget_high_s8(q));
  vst1q_f32(o, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(l))), d));
  vst1q_f32(o + 4, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_high_s16(l))), d));
  vst1q_f32(o + 8, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(h))), d));
  vst1q_f32(o + 12, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_high_s16(h))), d));
}

template <typename W>
void row_to_f32(const uint8_t* w, float* out, int64_t k) {
  for (int64_t b = 0; b < k / kQK; ++b) {
    const uint8_t* blk = w + b * W::kBytes;
    int8x16_t lo, hi;
    W::load(blk, &lo, &hi);
    if (W::kOffset) {  // Q4_0 nibbles are stored + 8
      lo = vsubq_s8(lo, vdupq_n_s8(8));
      hi = vsubq_s8(hi, vdupq_n_s8(8));
    }
    const float d = f16_at(blk);
    store_scaled(lo, d, out + b * kQK);
    store_scaled(hi, d, out + b * kQK + 16);
  }
}

void quantize_act(const float* x, int8_t* q, float* d, int64_t k) {
  const int64_t nb = k / kQK;
  for (int64_t b = 0; b < nb; ++b) {
    const float* v = x + b * kQK;
    float32x4_t xs[8];
    float32x4_t m = vdupq_n_f32(0);
    for (int j = 0; j < 8; ++j) {
      xs[j] = vld1q_f32(v + 4 * j);
      m = vmaxq_f32(m, vabsq_f32(xs[j]));
    }
    const float amax = vmaxvq_f32(m);
    d[b] = amax / 127.0f;
    const float id = amax != 0 ? 127.0f / amax : 0.0f;
    int16x8_t h[4];
    for (int j = 0; j < 4; ++j) {
      const int32x4_t i0 = vcvtnq_s32_f32(vmulq_n_f32(xs[2 * j], id));
      const int32x4_t i1 = vcvtnq_s32_f32(vmulq_n_f32(xs[2 * j + 1], id));
      h[j] = vcombine_s16(vqmovn_s32(i0), vqmovn_s32(i1));
    }
    vst1q_s8(q + b * kQK, vcombine_s8(vqmovn_s16(h[0]), vqmovn_s16(h[1])));
    vst1q_s8(q + b * kQK + 16, vcombine_s8(vqmovn_s16(h[2]), vqmovn_s16(h[3])));
    const int32_t sum = vaddvq_s32(vaddq_s32(vaddq_s32(vpaddlq_s16(h[0]), vpaddlq_s16(h[1])), vaddq_s32(vpaddlq_s16(h[2]), vpaddlq_s16(h[3]))));
    d[nb + b] = d[b] * static_cast<float>(sum);
  }
}

// The table for one block dot D; the row widener and the activation quantizer are the same
// code in both files (no dotprod in them).
template <typename D>
QDotTable qdot_table_with(const char* name) {
  QDotTable t;
  t.quantize = quantize_act;
  t.q8_0 = dot_row<Q8W, D>;
  t.q4_0 = dot_row<Q4W, D>;
  t.q8_0_x4 = dot_row_x4<Q8W, D>;
  t.q4_0_x4 = dot_row_x4<Q4W, D>;
  t.q8_0_2x4 = dot_rows_2x4<Q8W, D>;
  t.q4_0_2x4 = dot_rows_2x4<Q4W, D>;
  t.q8_0_row = row_to_f32<Q8W>;
  t.q4_0_row = row_to_f32<Q4W>;
  t.name = name;
  return t;
}

}  // namespace
}  // namespace edgevl
#endif

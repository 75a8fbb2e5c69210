// NEON exp (see vexp.h for the method); baseline AArch64.
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cmath>

#include "kernels/vexp.h"

namespace edgevl {

namespace {

inline float32x4_t exp4(float32x4_t x) {
  const float32x4_t lo = vdupq_n_f32(-87.33654f), hi = vdupq_n_f32(88.72283f);
  const uint32x4_t underflow = vcltq_f32(x, lo);
  const uint32x4_t overflow = vcgtq_f32(x, hi);
  const float32x4_t xc = vminq_f32(vmaxq_f32(x, lo), hi);
  const float32x4_t n = vrndnq_f32(vmulq_n_f32(xc, 1.44269504f));
  float32x4_t r = vfmsq_f32(xc, n, vdupq_n_f32(0.693359375f));
  r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
  float32x4_t p = vdupq_n_f32(1.0f / 720);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 120), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 24), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 6), p, r);
  p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  const int32x4_t ni = vcvtq_s32_f32(n);
  const int32x4_t n1 = vshrq_n_s32(ni, 1), n2 = vsubq_s32(ni, n1);
  const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, vdupq_n_s32(127)), 23));
  const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, vdupq_n_s32(127)), 23));
  float32x4_t y = vmulq_f32(vmulq_f32(p, s1), s2);
  y = vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(y), underflow));
  return vbslq_f32(overflow, vdupq_n_f32(INFINITY), y);
}

float exp_neon(const float* x, float* y, int64_t n, float shift) {
  const float32x4_t sh = vdupq_n_f32(shift);
  float32x4_t acc = vdupq_n_f32(0);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t e = exp4(vsubq_f32(vld1q_f32(x + i), sh));
    vst1q_f32(y + i, e);
    acc = vaddq_f32(acc, e);
  }
  float sum = vaddvq_f32(acc);
  if (i < n) {
    float buf[4] = {0, 0, 0, 0};
    for (int64_t j = i; j < n; ++j) buf[j - i] = x[j] - shift;
    vst1q_f32(buf, exp4(vld1q_f32(buf)));
    for (int64_t j = i; j < n; ++j) sum += (y[j] = buf[j - i]);
  }
  return sum;
}

}  // namespace

ExpTable exp_table_neon() { return {exp_neon, "neon"}; }

}  // namespace edgevl
#endif

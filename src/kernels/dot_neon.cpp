// NEON row dots f32·W[row] for f32 / f16 / bf16 weights. f16 is widened with vcvt_f32_f16
// (FCVTL, baseline AArch64), bf16 by a 16-bit shift; accumulation is f32 FMA in 4 lanes × 4.
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstring>

#include "core/fp16.h"
#include "kernels/dot.h"

namespace edgevl {

namespace {

inline float32x4_t load_f32(const uint8_t* p) { return vld1q_f32(reinterpret_cast<const float*>(p)); }
inline float32x4_t load_f16(const uint8_t* p) {
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p))));
}
inline float32x4_t load_bf16(const uint8_t* p) {
  return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p)), 16));
}

float scalar_f32(const uint8_t* p) {
  float f;
  std::memcpy(&f, p, 4);
  return f;
}
float scalar_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}
float scalar_bf16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return bf16_to_f32(h);
}

template <float32x4_t (*Load)(const uint8_t*), int kBytes, float (*Scalar)(const uint8_t*)>
float dot_impl(const float* x, const uint8_t* w, int64_t k) {
  float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(0), a2 = vdupq_n_f32(0), a3 = vdupq_n_f32(0);
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    a0 = vfmaq_f32(a0, vld1q_f32(x + i), Load(w + i * kBytes));
    a1 = vfmaq_f32(a1, vld1q_f32(x + i + 4), Load(w + (i + 4) * kBytes));
    a2 = vfmaq_f32(a2, vld1q_f32(x + i + 8), Load(w + (i + 8) * kBytes));
    a3 = vfmaq_f32(a3, vld1q_f32(x + i + 12), Load(w + (i + 12) * kBytes));
  }
  for (; i + 4 <= k; i += 4) a0 = vfmaq_f32(a0, vld1q_f32(x + i), Load(w + i * kBytes));
  float s = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
  for (; i < k; ++i) s += x[i] * Scalar(w + i * kBytes);
  return s;
}

template <float32x4_t (*Load)(const uint8_t*), int kBytes, float (*Scalar)(const uint8_t*)>
void dot_impl_x4(const float* x, int64_t xs, const uint8_t* w, int64_t k, float* out) {
  float32x4_t a[4][2];
  for (int r = 0; r < 4; ++r) a[r][0] = a[r][1] = vdupq_n_f32(0);
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    const float32x4_t w0 = Load(w + i * kBytes), w1 = Load(w + (i + 4) * kBytes);
    for (int r = 0; r < 4; ++r) {
      a[r][0] = vfmaq_f32(a[r][0], vld1q_f32(x + r * xs + i), w0);
      a[r][1] = vfmaq_f32(a[r][1], vld1q_f32(x + r * xs + i + 4), w1);
    }
  }
  for (; i + 4 <= k; i += 4) {
    const float32x4_t w0 = Load(w + i * kBytes);
    for (int r = 0; r < 4; ++r) a[r][0] = vfmaq_f32(a[r][0], vld1q_f32(x + r * xs + i), w0);
  }
  for (int r = 0; r < 4; ++r) {
    float s = vaddvq_f32(vaddq_f32(a[r][0], a[r][1]));
    for (int64_t j = i; j < k; ++j) s += x[r * xs + j] * Scalar(w + j * kBytes);
    out[r] = s;
  }
}

template <float32x4_t (*Load)(const uint8_t*), int kBytes, float (*Scalar)(const uint8_t*)>
static void axpy_impl(float a, const uint8_t* w, float* y, int64_t k) {
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), Load(w + i * kBytes), a));
    vst1q_f32(y + i + 4, vfmaq_n_f32(vld1q_f32(y + i + 4), Load(w + (i + 4) * kBytes), a));
  }
  for (; i + 4 <= k; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), Load(w + i * kBytes), a));
  for (; i < k; ++i) y[i] += a * Scalar(w + i * kBytes);
}

template <float32x4_t (*Load)(const uint8_t*), float (*Scalar)(const uint8_t*)>
void row_to_f32(const uint8_t* w, float* out, int64_t k) {
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    vst1q_f32(out + i, Load(w + 2 * i));
    vst1q_f32(out + i + 4, Load(w + 2 * (i + 4)));
  }
  for (; i + 4 <= k; i += 4) vst1q_f32(out + i, Load(w + 2 * i));
  for (; i < k; ++i) out[i] = Scalar(w + 2 * i);
}

}  // namespace

DotTable dot_table_neon() {
  DotTable t{dot_impl<load_f32, 4, scalar_f32>, dot_impl<load_f16, 2, scalar_f16>, dot_impl<load_bf16, 2, scalar_bf16>, "neon"};
  t.f32_x4 = dot_impl_x4<load_f32, 4, scalar_f32>;
  t.f16_x4 = dot_impl_x4<load_f16, 2, scalar_f16>;
  t.bf16_x4 = dot_impl_x4<load_bf16, 2, scalar_bf16>;
  t.f16_row = row_to_f32<load_f16, scalar_f16>;
  t.f32_axpy = axpy_impl<load_f32, 4, scalar_f32>;
  t.f16_axpy = axpy_impl<load_f16, 2, scalar_f16>;
  t.bf16_row = row_to_f32<load_bf16, scalar_bf16>;
  return t;
}

}  // namespace edgevl
#endif

// Scalar reference for the integer dot kernels (see qdot.h): plain loops, the ground truth
// that every SIMD variant is tested against.
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "kernels/qdot.h"
#include "kernels/quant.h"

namespace edgevl {

void quantize_act_reference(const float* x, int8_t* q, float* d, int64_t k) {
  const int64_t nb = k / kQK;
  for (int64_t b = 0; b < nb; ++b) {
    const float* v = x + b * kQK;
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(v[j]));
    const float s = amax / 127.0f;
    const float id = s != 0 ? 127.0f / amax : 0.0f;
    d[b] = s;
    int32_t sum = 0;
    for (int j = 0; j < kQK; ++j) {
      q[b * kQK + j] = static_cast<int8_t>(std::nearbyint(v[j] * id));
      sum += q[b * kQK + j];
    }
    d[nb + b] = s * static_cast<float>(sum);
  }
}

static float dot_q8_0(const uint8_t* w, const int8_t* q, const float* d, int64_t nb) {
  float acc = 0;
  for (int64_t b = 0; b < nb; ++b) {
    BlockQ8_0 blk;
    std::memcpy(&blk, w + b * sizeof(BlockQ8_0), sizeof blk);
    int32_t s = 0;
    for (int j = 0; j < kQK; ++j) s += static_cast<int32_t>(blk.qs[j]) * q[b * kQK + j];
    acc += f16_to_f32(blk.d) * d[b] * static_cast<float>(s);
  }
  return acc;
}

static float dot_q4_0(const uint8_t* w, const int8_t* q, const float* d, int64_t nb) {
  float acc = 0;
  for (int64_t b = 0; b < nb; ++b) {
    BlockQ4_0 blk;
    std::memcpy(&blk, w + b * sizeof(BlockQ4_0), sizeof blk);
    int32_t s = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      s += ((blk.qs[j] & 0x0f) - 8) * q[b * kQK + j];
      s += ((blk.qs[j] >> 4) - 8) * q[b * kQK + j + kQK / 2];
    }
    acc += f16_to_f32(blk.d) * d[b] * static_cast<float>(s);
  }
  return acc;
}

template <QDotFn Dot>
static void dot_x4(const uint8_t* w, const int8_t* q, int64_t q_stride, const float* d, int64_t d_stride, int64_t nb, float* out) {
  for (int r = 0; r < 4; ++r) out[r] = Dot(w, q + r * q_stride, d + r * d_stride, nb);
}

template <QDotFn Dot>
static void dot_2x4(const uint8_t* w, int64_t ws, const int8_t* q, int64_t q_stride, const float* d, int64_t d_stride, int64_t nb,
                    float* out) {
  for (int i = 0; i < 2; ++i)
    for (int r = 0; r < 4; ++r) out[i * 4 + r] = Dot(w + i * ws, q + r * q_stride, d + r * d_stride, nb);
}

static void q8_0_row(const uint8_t* w, float* out, int64_t k) { dequantize_q8_0(w, out, k); }
static void q4_0_row(const uint8_t* w, float* out, int64_t k) { dequantize_q4_0(w, out, k); }

QDotTable qdot_table_scalar() {
  QDotTable t;
  t.quantize = quantize_act_reference;
  t.q8_0 = dot_q8_0;
  t.q4_0 = dot_q4_0;
  t.q8_0_x4 = dot_x4<dot_q8_0>;
  t.q4_0_x4 = dot_x4<dot_q4_0>;
  t.q8_0_2x4 = dot_2x4<dot_q8_0>;
  t.q4_0_2x4 = dot_2x4<dot_q4_0>;
  t.q8_0_row = q8_0_row;
  t.q4_0_row = q4_0_row;
  t.name = "scalar";
  return t;
}

}  // namespace edgevl

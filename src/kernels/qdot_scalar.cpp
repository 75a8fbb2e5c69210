// Scalar reference for the integer dot kernels (see qdot.h): plain loops, the ground truth
// that every SIMD variant is tested against.
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "kernels/qdot.h"
#include "kernels/kquant.h"
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

// Every other block type through its unpacked view (kquant.h): per 16 values an integer
// sum Σw·a and Σa, scaled by the half's (scale, bias) and the activation block's scale.
template <QKind K>
static float dot_unpacked(const uint8_t* w, const int8_t* q, const float* d, int64_t nb) {
  float acc = 0;
  Unpacked32 u;
  for (int64_t b = 0; b < nb; ++b) {
    unpack32(K, w, b, &u);
    const int8_t* a = q + b * kQK;
    float block = 0;
    for (int h = 0; h < 2; ++h) {
      int32_t s = 0, sa = 0;
      for (int l = 16 * h; l < 16 * h + 16; ++l) {
        s += static_cast<int32_t>(u.q[l]) * a[l];
        sa += a[l];
      }
      block += u.scale[h] * static_cast<float>(s) + u.bias[h] * static_cast<float>(sa);
    }
    acc += d[b] * block;
  }
  return acc;
}

template <QKind K, void (*Deq)(const void*, float*, int64_t)>
static QDotKernels unpacked_kernels() {
  QDotKernels k;
  k.dot = dot_unpacked<K>;
  k.x4 = dot_x4<dot_unpacked<K>>;
  k.x2x4 = dot_2x4<dot_unpacked<K>>;
  k.row = [](const uint8_t* w, float* out, int64_t n) { Deq(w, out, n); };
  return k;
}

QDotKernels QDotTable::for_type(DType t) const {
  QDotKernels k;
  switch (t) {
    case DType::Q8_0: k.dot = q8_0; k.x4 = q8_0_x4; k.x2x4 = q8_0_2x4; k.row = q8_0_row; return k;
    case DType::Q4_0: k.dot = q4_0; k.x4 = q4_0_x4; k.x2x4 = q4_0_2x4; k.row = q4_0_row; return k;
    case DType::Q4_1: return q4_1;
    case DType::Q5_0: return q5_0;
    case DType::Q5_1: return q5_1;
    case DType::Q2_K: return q2_k;
    case DType::Q3_K: return q3_k;
    case DType::Q4_K: return q4_k;
    case DType::Q5_K: return q5_k;
    case DType::Q6_K: return q6_k;
    default: return k;
  }
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
  t.q4_1 = unpacked_kernels<QKind::Q4_1, dequantize_q4_1>();
  t.q5_0 = unpacked_kernels<QKind::Q5_0, dequantize_q5_0>();
  t.q5_1 = unpacked_kernels<QKind::Q5_1, dequantize_q5_1>();
  t.q2_k = unpacked_kernels<QKind::Q2_K, dequantize_q2_k>();
  t.q3_k = unpacked_kernels<QKind::Q3_K, dequantize_q3_k>();
  t.q4_k = unpacked_kernels<QKind::Q4_K, dequantize_q4_k>();
  t.q5_k = unpacked_kernels<QKind::Q5_K, dequantize_q5_k>();
  t.q6_k = unpacked_kernels<QKind::Q6_K, dequantize_q6_k>();
  t.name = "scalar";
  return t;
}

}  // namespace edgevl

#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "kernels/quant.h"

namespace edgevl {

void quantize_q8_0(const float* x, void* out, int64_t n) {
  BlockQ8_0* b = static_cast<BlockQ8_0*>(out);
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float* v = x + i * kQK;
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::fmax(amax, std::fabs(v[j]));
    const float d = amax / 127.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    b[i].d = f32_to_f16(d);
    for (int j = 0; j < kQK; ++j) b[i].qs[j] = static_cast<int8_t>(std::roundf(v[j] * id));
  }
}

void quantize_q4_0(const float* x, void* out, int64_t n) {
  BlockQ4_0* b = static_cast<BlockQ4_0*>(out);
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float* v = x + i * kQK;
    // The scale maps the value of largest magnitude (with its sign) to -8.
    float amax = 0, max = 0;
    for (int j = 0; j < kQK; ++j) {
      if (std::fabs(v[j]) > amax) {
        amax = std::fabs(v[j]);
        max = v[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    b[i].d = f32_to_f16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      int q0 = static_cast<int>(static_cast<int8_t>(v[j] * id + 8.5f));
      int q1 = static_cast<int>(static_cast<int8_t>(v[j + kQK / 2] * id + 8.5f));
      q0 = q0 > 15 ? 15 : q0;
      q1 = q1 > 15 ? 15 : q1;
      b[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void dequantize_q8_0(const void* in, float* out, int64_t n) {
  const BlockQ8_0* b = static_cast<const BlockQ8_0*>(in);
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float d = f16_to_f32(b[i].d);
    for (int j = 0; j < kQK; ++j) out[i * kQK + j] = d * b[i].qs[j];
  }
}

void dequantize_q4_0(const void* in, float* out, int64_t n) {
  const BlockQ4_0* b = static_cast<const BlockQ4_0*>(in);
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float d = f16_to_f32(b[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      out[i * kQK + j] = d * ((b[i].qs[j] & 0x0f) - 8);
      out[i * kQK + j + kQK / 2] = d * ((b[i].qs[j] >> 4) - 8);
    }
  }
}

}  // namespace edgevl

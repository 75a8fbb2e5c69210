#include <algorithm>
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

// ---- Q4_1 / Q5_0 / Q5_1 -------------------------------------------------------------

namespace {
// Element e's fifth bit as 16 or 0 (Q5 blocks keep bit 4 of element e in bit e of qh).
inline int high_bit(uint32_t qh, int e) { return static_cast<int>((qh >> e) & 1u) << 4; }
inline uint32_t load_qh(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
// min and max of one block: the affine types map [min, max] onto the integer range.
inline void block_range(const float* v, float* lo, float* hi) {
  float mn = v[0], mx = v[0];
  for (int j = 1; j < kQK; ++j) {
    mn = v[j] < mn ? v[j] : mn;
    mx = v[j] > mx ? v[j] : mx;
  }
  *lo = mn;
  *hi = mx;
}
}  // namespace

void dequantize_q4_1(const void* in, float* out, int64_t n) {
  const BlockQ4_1* b = static_cast<const BlockQ4_1*>(in);
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float d = f16_to_f32(b[i].d), m = f16_to_f32(b[i].m);
    for (int j = 0; j < kQK / 2; ++j) {
      out[i * kQK + j] = (b[i].qs[j] & 0x0f) * d + m;
      out[i * kQK + j + kQK / 2] = (b[i].qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_q5_0(const void* in, float* out, int64_t n) {
  const BlockQ5_0* b = static_cast<const BlockQ5_0*>(in);
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float d = f16_to_f32(b[i].d);
    const uint32_t qh = load_qh(b[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      out[i * kQK + j] = (((b[i].qs[j] & 0x0f) | high_bit(qh, j)) - 16) * d;
      out[i * kQK + j + kQK / 2] = (((b[i].qs[j] >> 4) | high_bit(qh, j + 16)) - 16) * d;
    }
  }
}

void dequantize_q5_1(const void* in, float* out, int64_t n) {
  const BlockQ5_1* b = static_cast<const BlockQ5_1*>(in);
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float d = f16_to_f32(b[i].d), m = f16_to_f32(b[i].m);
    const uint32_t qh = load_qh(b[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      out[i * kQK + j] = ((b[i].qs[j] & 0x0f) | high_bit(qh, j)) * d + m;
      out[i * kQK + j + kQK / 2] = ((b[i].qs[j] >> 4) | high_bit(qh, j + 16)) * d + m;
    }
  }
}

void quantize_q4_1(const float* x, void* out, int64_t n) {
  BlockQ4_1* b = static_cast<BlockQ4_1*>(out);
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float* v = x + i * kQK;
    float mn, mx;
    block_range(v, &mn, &mx);
    const float d = (mx - mn) / 15.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    b[i].d = f32_to_f16(d);
    b[i].m = f32_to_f16(mn);
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = std::min(15, static_cast<int>((v[j] - mn) * id + 0.5f));
      const int q1 = std::min(15, static_cast<int>((v[j + kQK / 2] - mn) * id + 0.5f));
      b[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void quantize_q5_0(const float* x, void* out, int64_t n) {
  BlockQ5_0* b = static_cast<BlockQ5_0*>(out);
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float* v = x + i * kQK;
    // As Q4_0: the value of largest magnitude (with its sign) maps to -16.
    float amax = 0, max = 0;
    for (int j = 0; j < kQK; ++j)
      if (std::fabs(v[j]) > amax) {
        amax = std::fabs(v[j]);
        max = v[j];
      }
    const float d = max / -16.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    b[i].d = f32_to_f16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kQK; ++j) {
      const int q = std::max(0, std::min(31, static_cast<int>(v[j] * id + 16.5f)));
      if (j < kQK / 2)
        b[i].qs[j] = static_cast<uint8_t>(q & 0x0f);
      else
        b[i].qs[j - kQK / 2] |= static_cast<uint8_t>((q & 0x0f) << 4);
      qh |= static_cast<uint32_t>(q >> 4) << j;
    }
    std::memcpy(b[i].qh, &qh, 4);
  }
}

void quantize_q5_1(const float* x, void* out, int64_t n) {
  BlockQ5_1* b = static_cast<BlockQ5_1*>(out);
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float* v = x + i * kQK;
    float mn, mx;
    block_range(v, &mn, &mx);
    const float d = (mx - mn) / 31.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    b[i].d = f32_to_f16(d);
    b[i].m = f32_to_f16(mn);
    uint32_t qh = 0;
    for (int j = 0; j < kQK; ++j) {
      const int q = std::min(31, static_cast<int>((v[j] - mn) * id + 0.5f));
      if (j < kQK / 2)
        b[i].qs[j] = static_cast<uint8_t>(q & 0x0f);
      else
        b[i].qs[j - kQK / 2] |= static_cast<uint8_t>((q & 0x0f) << 4);
      qh |= static_cast<uint32_t>(q >> 4) << j;
    }
    std::memcpy(b[i].qh, &qh, 4);
  }
}

}  // namespace edgevl

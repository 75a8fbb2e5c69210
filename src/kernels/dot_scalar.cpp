#include <cstring>

#include "core/fp16.h"
#include "kernels/dot.h"

namespace edgevl {

// Four partial sums, so the compiler can vectorise and the rounding stays close to SIMD.
template <typename Load>
static float dot_generic(const float* x, int64_t k, Load load) {
  float s[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= k; i += 4)
    for (int j = 0; j < 4; ++j) s[j] += x[i + j] * load(i + j);
  for (; i < k; ++i) s[0] += x[i] * load(i);
  return (s[0] + s[1]) + (s[2] + s[3]);
}

static float dot_f32(const float* x, const uint8_t* w, int64_t k) {
  const float* wf = reinterpret_cast<const float*>(w);
  return dot_generic(x, k, [&](int64_t i) { return wf[i]; });
}
static float dot_f16(const float* x, const uint8_t* w, int64_t k) {
  return dot_generic(x, k, [&](int64_t i) {
    uint16_t h;
    std::memcpy(&h, w + 2 * i, 2);
    return f16_to_f32(h);
  });
}
static float dot_bf16(const float* x, const uint8_t* w, int64_t k) {
  return dot_generic(x, k, [&](int64_t i) {
    uint16_t h;
    std::memcpy(&h, w + 2 * i, 2);
    return bf16_to_f32(h);
  });
}

template <DotFn Dot>
static void dot_x4(const float* x, int64_t xs, const uint8_t* w, int64_t k, float* out) {
  for (int r = 0; r < 4; ++r) out[r] = Dot(x + r * xs, w, k);
}

static void f16_row(const uint8_t* w, float* out, int64_t k) {
  for (int64_t i = 0; i < k; ++i) {
    uint16_t h;
    std::memcpy(&h, w + 2 * i, 2);
    out[i] = f16_to_f32(h);
  }
}
static void bf16_row(const uint8_t* w, float* out, int64_t k) {
  for (int64_t i = 0; i < k; ++i) {
    uint16_t h;
    std::memcpy(&h, w + 2 * i, 2);
    out[i] = bf16_to_f32(h);
  }
}

static void axpy_f32(float a, const uint8_t* w, float* y, int64_t k) {
  const float* wf = reinterpret_cast<const float*>(w);
  for (int64_t i = 0; i < k; ++i) y[i] += a * wf[i];
}
static void axpy_f16(float a, const uint8_t* w, float* y, int64_t k) {
  for (int64_t i = 0; i < k; ++i) {
    uint16_t h;
    std::memcpy(&h, w + 2 * i, 2);
    y[i] += a * f16_to_f32(h);
  }
}

DotTable dot_table_scalar() {
  DotTable t{dot_f32, dot_f16, dot_bf16, "scalar"};
  t.f16_row = f16_row;
  t.f32_axpy = axpy_f32;
  t.f16_axpy = axpy_f16;
  t.bf16_row = bf16_row;
  t.f32_x4 = dot_x4<dot_f32>;
  t.f16_x4 = dot_x4<dot_f16>;
  t.bf16_x4 = dot_x4<dot_bf16>;
  return t;
}

Dot4Fn DotTable::x4_for_type(DType t) const {
  switch (t) {
    case DType::F32: return f32_x4;
    case DType::F16: return f16_x4;
    case DType::BF16: return bf16_x4;
    default: return nullptr;
  }
}

DotFn DotTable::for_type(DType t) const {
  switch (t) {
    case DType::F32: return f32;
    case DType::F16: return f16;
    case DType::BF16: return bf16;
    default: return nullptr;
  }
}

}  // namespace edgevl

// AVX2 + FMA + F16C row dots. Compiled with -mavx2 -mfma -mf16c (see CMakeLists);
// only called after cpu_features() confirmed support.
#include <immintrin.h>

#include <cstring>

#include "core/fp16.h"
#include "kernels/dot.h"

namespace edgevl {

static inline float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
  return _mm_cvtss_f32(lo);
}

static inline __m256 load_bf16(const uint8_t* p) {
  __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
static inline __m256 load_f16(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
static inline __m256 load_f32(const uint8_t* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }

template <__m256 (*Load)(const uint8_t*), int kBytes, float (*Scalar)(const uint8_t*)>
static float dot_impl(const float* x, const uint8_t* w, int64_t k) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= k; i += 32) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), Load(w + i * kBytes), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), Load(w + (i + 8) * kBytes), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), Load(w + (i + 16) * kBytes), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), Load(w + (i + 24) * kBytes), a3);
  }
  for (; i + 8 <= k; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), Load(w + i * kBytes), a0);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; i < k; ++i) s += x[i] * Scalar(w + i * kBytes);
  return s;
}

static float scalar_f32(const uint8_t* p) {
  float f;
  std::memcpy(&f, p, 4);
  return f;
}
static float scalar_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}
static float scalar_bf16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return bf16_to_f32(h);
}

// Four rows of x against one weight row: 2 weight vectors (16 elements) per step, each
// widened once and used by 4 FMAs, so the f16/bf16 conversion is amortised.
template <__m256 (*Load)(const uint8_t*), int kBytes, float (*Scalar)(const uint8_t*)>
static void dot_impl_x4(const float* x, int64_t xs, const uint8_t* w, int64_t k, float* out) {
  __m256 a[4][2];
  for (int r = 0; r < 4; ++r) a[r][0] = a[r][1] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    const __m256 w0 = Load(w + i * kBytes), w1 = Load(w + (i + 8) * kBytes);
    for (int r = 0; r < 4; ++r) {
      a[r][0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + r * xs + i), w0, a[r][0]);
      a[r][1] = _mm256_fmadd_ps(_mm256_loadu_ps(x + r * xs + i + 8), w1, a[r][1]);
    }
  }
  for (; i + 8 <= k; i += 8) {
    const __m256 w0 = Load(w + i * kBytes);
    for (int r = 0; r < 4; ++r) a[r][0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + r * xs + i), w0, a[r][0]);
  }
  for (int r = 0; r < 4; ++r) {
    float s = hsum(_mm256_add_ps(a[r][0], a[r][1]));
    for (int64_t j = i; j < k; ++j) s += x[r * xs + j] * Scalar(w + j * kBytes);
    out[r] = s;
  }
}

template <__m256 (*Load)(const uint8_t*), int kBytes, float (*Scalar)(const uint8_t*)>
static void axpy_impl(float a, const uint8_t* w, float* y, int64_t k) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, Load(w + i * kBytes), _mm256_loadu_ps(y + i)));
    _mm256_storeu_ps(y + i + 8, _mm256_fmadd_ps(av, Load(w + (i + 8) * kBytes), _mm256_loadu_ps(y + i + 8)));
  }
  for (; i + 8 <= k; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, Load(w + i * kBytes), _mm256_loadu_ps(y + i)));
  for (; i < k; ++i) y[i] += a * Scalar(w + i * kBytes);
}

template <__m256 (*Load)(const uint8_t*), float (*Scalar)(const uint8_t*)>
static void row_to_f32(const uint8_t* w, float* out, int64_t k) {
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    _mm256_storeu_ps(out + i, Load(w + 2 * i));
    _mm256_storeu_ps(out + i + 8, Load(w + 2 * (i + 8)));
  }
  for (; i + 8 <= k; i += 8) _mm256_storeu_ps(out + i, Load(w + 2 * i));
  for (; i < k; ++i) out[i] = Scalar(w + 2 * i);
}

DotTable dot_table_avx2() {
  DotTable t{dot_impl<load_f32, 4, scalar_f32>, dot_impl<load_f16, 2, scalar_f16>, dot_impl<load_bf16, 2, scalar_bf16>, "avx2"};
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

// Small AVX2 helpers shared by the *_avx2.cpp kernels. Include only from files compiled
// with -mavx2 -mfma -mf16c (CMakeLists.txt gives *_avx2.cpp those flags).
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace edgevl {
namespace avx2 {

// Sum of the 8 lanes.
inline float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
  return _mm_cvtss_f32(lo);
}

// An IEEE half stored (unaligned, little-endian) at p, as float.
inline float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

}  // namespace avx2
}  // namespace edgevl

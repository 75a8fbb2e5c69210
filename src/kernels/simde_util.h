// Helpers for the kernels written against SIMDe's names (*_impl.h included by *_avx512.cpp /
// *_avxvnni.cpp and by their emulated tests): operations SIMDe 0.7.4 lacks, native where the
// includer is compiled with the ISA, portable otherwise. Internal linkage, like the kernels.
#pragma once
#include <simde/x86/avx512.h>

#include <cstdint>

namespace edgevl {
namespace {
namespace simde_util {

// int32 -> f32 per lane (no simde_mm512_cvtepi32_ps in 0.7.4).
inline simde__m512 i32_to_f32(simde__m512i v) {
#if defined(SIMDE_X86_AVX512F_NATIVE)
  return _mm512_cvtepi32_ps(v);
#else
  int32_t in[16];
  float out[16];
  simde_mm512_storeu_si512(in, v);
  for (int i = 0; i < 16; ++i) out[i] = static_cast<float>(in[i]);
  return simde_mm512_loadu_ps(out);
#endif
}

// Sum of the 16 lanes (no simde_mm512_reduce_add_ps in 0.7.4).
inline float hsum(simde__m512 v) {
#if defined(SIMDE_X86_AVX512F_NATIVE)
  return _mm512_reduce_add_ps(v);
#else
  float t[16];
  simde_mm512_storeu_ps(t, v);
  float s = 0;
  for (float x : t) s += x;
  return s;
#endif
}

}  // namespace simde_util
}  // namespace
}  // namespace edgevl

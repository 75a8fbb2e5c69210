// NEON dots for Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K with the ARMv8.2 dotprod extension
// (vdotq_s32), chosen at run time when the CPU reports it (Cortex-A55/A76, as in the
// RK3588). CMake builds *_neon_dotprod.cpp with +dotprod, and only this file.
#if defined(__aarch64__)
#include "kernels/qdot_kquant_neon_impl.h"

namespace edgevl {
namespace {

// acc + Σ w·a over 16 int8 pairs: one 4-way dot into each int32 lane.
struct SdotDot16 {
  static int32x4_t dot16(int32x4_t acc, int8x16_t w, int8x16_t a) { return vdotq_s32(acc, w, a); }
};

}  // namespace

void add_kquant_kernels_neon_dotprod(QDotTable* t) { add_kquant_kernels_with<SdotDot16>(t); }

}  // namespace edgevl
#endif

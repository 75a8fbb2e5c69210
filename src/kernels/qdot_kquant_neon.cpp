// NEON dots for Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K with plain AArch64 widening multiplies
// (vmull_s8 + vpadalq_s16), for cores without the dotprod extension (Cortex-A53/A72, as in
// the RK3576). CMake builds *_neon.cpp for baseline ARMv8-A, so no later instruction can
// appear here.
#if defined(__aarch64__)
#include "kernels/qdot_kquant_neon_impl.h"

namespace edgevl {
namespace {

// acc + Σ w·a over 16 int8 pairs, in 4 int32 lanes (products fit int16: |w| <= 32).
struct WideningDot16 {
  static int32x4_t dot16(int32x4_t acc, int8x16_t w, int8x16_t a) {
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(w), vget_low_s8(a)));
    return vpadalq_s16(acc, vmull_high_s8(w, a));
  }
};

}  // namespace

void add_kquant_kernels_neon(QDotTable* t) { add_kquant_kernels_with<WideningDot16>(t); }

}  // namespace edgevl
#endif

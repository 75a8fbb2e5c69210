// NEON Q8_0 / Q4_0 dots with the ARMv8.2 dotprod extension (vdotq_s32: a 4-way int8 dot into
// each int32 lane), chosen at run time when the CPU reports it (HWCAP_ASIMDDP: Cortex-A55/A76,
// as in the RK3588). CMake builds *_neon_dotprod.cpp with +dotprod, and only this file.
#if defined(__aarch64__)
#include "kernels/qdot_neon_impl.h"

namespace edgevl {
namespace {

struct SdotDot {
  static int32x4_t dot(int8x16_t w0, int8x16_t w1, const int8_t* a) {
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, vld1q_s8(a)), w1, vld1q_s8(a + 16));
  }
};

}  // namespace

QDotTable qdot_table_neon_dotprod() { return qdot_table_with<SdotDot>("neon_dotprod"); }

}  // namespace edgevl
#endif

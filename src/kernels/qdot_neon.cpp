// NEON Q8_0 / Q4_0 dots with plain AArch64 widening multiplies (vmull_s8 + vpadalq_s16),
// for cores without the dotprod extension (Cortex-A53/A72, as in the RK3576). CMake builds
// *_neon.cpp for baseline ARMv8-A, so no later instruction can appear here.
#if defined(__aarch64__)
#include "kernels/qdot_neon_impl.h"

namespace edgevl {

QDotTable qdot_table_neon() { return qdot_table_with<PlainDot>("neon"); }

}  // namespace edgevl
#endif

// The AVX-VNNI table of the integer prefill GEMM (kernels in qgemm_vnni_impl.h, 256-bit): for
// CPUs with the VEX-encoded vpdpbusd but no AVX-512 (Intel Alder Lake and later client cores).
// Compiled with -mavx2 -mfma -mf16c -mavxvnni (CMakeLists.txt); only called after
// cpu_features() confirmed them.
#include "kernels/qgemm_vnni_impl.h"

namespace edgevl {

QGemmTable qgemm_table_avxvnni() { return vnni_qgemm::ymm_table("avxvnni"); }

}  // namespace edgevl

// The AVX-512 VNNI table of the integer prefill GEMM (kernels in qgemm_vnni_impl.h, 512-bit).
// Compiled with the AVX-512 flags (CMakeLists.txt); only called after cpu_features()
// confirmed avx512f+bw+vl+vnni.
// GCC 12's _mm512_cvtepi32_ps passes _mm512_undefined_ps() as its merge operand, which
// -Wmaybe-uninitialized reports at every inlined call; the value is never read.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "kernels/qgemm_vnni_impl.h"

namespace edgevl {

QGemmTable qgemm_table_avx512() { return vnni_qgemm::zmm_table("avx512vnni"); }

}  // namespace edgevl

// The AVX-512 VNNI quant dot table: the AVX2 table with its Q8_0 / Q4_0 row dots (decode)
// replaced by the 512-bit ones of qdot_avx512_impl.h. Compiled with the AVX-512 flags
// (CMakeLists.txt); only used after cpu_features() confirmed avx512f+bw+vl+vnni.
// GCC 12's _mm512_cvtepi32_ps and _mm512_castsi256_si512 start from _mm512_undefined_*(),
// which -W(maybe-)uninitialized reports at every inlined call; those lanes are never read.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "kernels/qdot_avx512_impl.h"

namespace edgevl {

QDotTable qdot_table_avx512() { return avx512_qdot::with_dots(qdot_table_avx2(), "avx512vnni"); }

}  // namespace edgevl

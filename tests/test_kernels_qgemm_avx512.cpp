// The AVX-512 VNNI prefill GEMM kernels (kernels/qgemm_avx512_impl.h) against the scalar
// reference twice: natively where the CPU has avx512f+bw+vl+vnni (skipped, with the reason,
// where it does not), and on every machine through SIMDe's emulation of the same source.
#include <gtest/gtest.h>

#include "core/cpu_features.h"
#include "kernels/qgemm.h"
#include "kernels/qgemm_avx512_impl.h"  // without AVX-512 flags here: SIMDe emulates each intrinsic
#include "qgemm_checks.h"

using namespace edgevl;

TEST(QGemmAvx512, EmulatedKernelsMatchQuantReference) {
  const QGemmTable t = avx512_qgemm::table("avx512vnni (SIMDe emulation)");
  edgevl_test::expect_qgemm_matches_reference(t);
  edgevl_test::expect_qgemm_exact_on_extremes(t);
}

TEST(QGemmAvx512, NativeKernelsMatchQuantReferenceAndAreChosen) {
#if defined(__x86_64__)
  const auto& f = cpu_features();
  if (!(f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni))
    GTEST_SKIP() << "this CPU lacks avx512f/bw/vl/vnni (" << cpu_features().describe()
                 << "); the same kernels ran under emulation in EmulatedKernelsMatchQuantReference";
  const QGemmTable t = qgemm_table_avx512();
  edgevl_test::expect_qgemm_matches_reference(t);
  edgevl_test::expect_qgemm_exact_on_extremes(t);
  ASSERT_NE(qgemm_table_best(), nullptr);
  EXPECT_STREQ(qgemm_table_best()->name, "avx512vnni");
#else
  GTEST_SKIP() << "AVX-512 is x86 only";
#endif
}

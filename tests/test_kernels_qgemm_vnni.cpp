// The VNNI prefill GEMM kernels (kernels/qgemm_vnni_impl.h: AVX-512 VNNI 8x16 tiles and
// AVX-VNNI 4x8 tiles) against the scalar reference twice: natively where the CPU has the ISA
// (skipped, with the reason, where it does not), and on every machine through SIMDe's
// emulation of the same source.
#include <gtest/gtest.h>

#include "core/cpu_features.h"
#include "kernels/qgemm.h"
#include "kernels/qgemm_vnni_impl.h"  // without the ISA flags here: SIMDe emulates each intrinsic
#include "qgemm_checks.h"

using namespace edgevl;

TEST(QGemmVnni, EmulatedAvx512KernelsMatchQuantReference) {
  const QGemmTable t = vnni_qgemm::zmm_table("avx512vnni (SIMDe emulation)");
  edgevl_test::expect_qgemm_matches_reference(t);
  edgevl_test::expect_qgemm_exact_on_extremes(t);
}

TEST(QGemmVnni, EmulatedAvxVnniKernelsMatchQuantReference) {
  const QGemmTable t = vnni_qgemm::ymm_table("avxvnni (SIMDe emulation)");
  edgevl_test::expect_qgemm_matches_reference(t);
  edgevl_test::expect_qgemm_exact_on_extremes(t);
}

TEST(QGemmVnni, NativeAvx512KernelsMatchQuantReferenceAndAreChosen) {
#if defined(__x86_64__)
  const auto& f = cpu_features();
  if (!f.has_avx512vnni_kernels())
    GTEST_SKIP() << "this CPU lacks avx512f/bw/vl/vnni (" << f.describe()
                 << "); the same kernels ran under emulation in EmulatedAvx512KernelsMatchQuantReference";
  const QGemmTable t = qgemm_table_avx512();
  edgevl_test::expect_qgemm_matches_reference(t);
  edgevl_test::expect_qgemm_exact_on_extremes(t);
  ASSERT_NE(qgemm_table_best(), nullptr);
  EXPECT_STREQ(qgemm_table_best()->name, "avx512vnni");
#else
  GTEST_SKIP() << "AVX-512 is x86 only";
#endif
}

TEST(QGemmVnni, NativeAvxVnniKernelsMatchQuantReference) {
#if defined(__x86_64__)
  const auto& f = cpu_features();
  if (!f.has_avxvnni_kernels())
    GTEST_SKIP() << "this CPU lacks avxvnni (" << f.describe()
                 << "); the same kernels ran under emulation in EmulatedAvxVnniKernelsMatchQuantReference";
  const QGemmTable t = qgemm_table_avxvnni();
  edgevl_test::expect_qgemm_matches_reference(t);
  edgevl_test::expect_qgemm_exact_on_extremes(t);
  ASSERT_NE(qgemm_table_best(), nullptr);
  if (!f.has_avx512vnni_kernels()) {
    EXPECT_STREQ(qgemm_table_best()->name, "avxvnni");
  }
#else
  GTEST_SKIP() << "AVX-VNNI is x86 only";
#endif
}

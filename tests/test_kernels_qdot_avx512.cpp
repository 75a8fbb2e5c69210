// The AVX-512 VNNI row dots (kernels/qdot_avx512_impl.h) against the scalar table twice:
// natively where the CPU has avx512f+bw+vl+vnni (skipped, with the reason, where it does
// not), and on every machine through SIMDe's emulation of the same source.
#include <gtest/gtest.h>

#include <cstring>

#include "core/cpu_features.h"
#include "kernels/qdot.h"
#include "kernels/qdot_avx512_impl.h"  // without AVX-512 flags here: SIMDe emulates each intrinsic
#include "qdot_checks.h"

using namespace edgevl;

TEST(QDotAvx512, EmulatedRowDotsMatchScalar) {
  // The scalar table's other kernels around the emulated row dots (the checks call them too).
  const QDotTable t = avx512_qdot::with_dots(qdot_table_scalar(), "avx512vnni (SIMDe emulation)");
  edgevl_test::expect_qdot_matches_scalar(t);
  edgevl_test::expect_qdot_exact_on_extremes(t);
}

TEST(QDotAvx512, NativeRowDotsMatchScalarAndAreChosen) {
#if defined(__x86_64__)
  const auto& f = cpu_features();
  if (!f.has_avx512vnni_kernels())
    GTEST_SKIP() << "this CPU lacks avx512f/bw/vl/vnni (" << f.describe()
                 << "); the same kernels ran under emulation in EmulatedRowDotsMatchScalar";
  const QDotTable t = qdot_table_avx512();
  edgevl_test::expect_qdot_matches_scalar(t);
  edgevl_test::expect_qdot_exact_on_extremes(t);
  EXPECT_STREQ(qdot_table_best().name, "avx512vnni");
#else
  GTEST_SKIP() << "AVX-512 is x86 only";
#endif
}

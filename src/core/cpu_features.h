// What SIMD the running CPU offers; kernels pick their variant from this once.
#pragma once
#include <string>

namespace edgevl {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512vnni = false, avx512bf16 = false;
  bool avx_vnni = false;
  bool neon = false, dotprod = false, i8mm = false;
  std::string describe() const;  // "avx2 fma f16c ..." for logs and bench output
};

const CpuFeatures& cpu_features();

}  // namespace edgevl

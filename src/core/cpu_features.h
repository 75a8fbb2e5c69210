// What SIMD the running CPU offers; kernels pick their variant from this once.
#pragma once
#include <string>

namespace edgevl {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512vnni = false, avx512bf16 = false;
  bool avx_vnni = false;
  bool neon = false, dotprod = false, i8mm = false;
  // What each x86 kernel family needs (the *_avx2 / *_avxvnni / *_avx512 files' flags).
  bool has_avx2_kernels() const { return avx2 && fma && f16c; }
  bool has_avxvnni_kernels() const { return has_avx2_kernels() && avx_vnni; }
  bool has_avx512vnni_kernels() const { return has_avx2_kernels() && avx512f && avx512bw && avx512vl && avx512vnni; }
  std::string describe() const;  // "avx2 fma f16c ..." for logs and bench output
};

const CpuFeatures& cpu_features();

}  // namespace edgevl

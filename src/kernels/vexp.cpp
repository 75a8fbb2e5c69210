#include "kernels/vexp.h"

#include <cmath>

#include "core/cpu_features.h"

namespace edgevl {

static float exp_scalar(const float* x, float* y, int64_t n, float shift) {
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += (y[i] = std::exp(x[i] - shift));
  return sum;
}

ExpTable exp_table_scalar() { return {exp_scalar, "scalar"}; }

std::vector<ExpTable> exp_tables_available() {
  std::vector<ExpTable> t = {exp_table_scalar()};
#if defined(__x86_64__)
  const auto& f = cpu_features();
  if (f.avx2 && f.fma) t.push_back(exp_table_avx2());
#endif
#if defined(__aarch64__)
  if (cpu_features().neon) t.push_back(exp_table_neon());
#endif
  return t;
}

const ExpTable& exp_table_best() {
  static const ExpTable t = exp_tables_available().back();
  return t;
}

}  // namespace edgevl

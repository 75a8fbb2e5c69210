#include "kernels/membw.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "core/cpu_features.h"
#include "core/error.h"

namespace edgevl {

namespace {

#if defined(__x86_64__)
__attribute__((target("avx2"))) uint64_t sum_avx2(const uint8_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 128 <= n; i += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  alignas(32) uint64_t v[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(v), s);
  return v[0] + v[1] + v[2] + v[3];
}
#endif

uint64_t sum_generic(const uint8_t* p, size_t n) {
#if defined(__aarch64__)
  uint64x2_t a0 = vdupq_n_u64(0), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 64 <= n; i += 64) {
    a0 = vaddq_u64(a0, vld1q_u64(reinterpret_cast<const uint64_t*>(p + i)));
    a1 = vaddq_u64(a1, vld1q_u64(reinterpret_cast<const uint64_t*>(p + i + 16)));
    a2 = vaddq_u64(a2, vld1q_u64(reinterpret_cast<const uint64_t*>(p + i + 32)));
    a3 = vaddq_u64(a3, vld1q_u64(reinterpret_cast<const uint64_t*>(p + i + 48)));
  }
  uint64x2_t s = vaddq_u64(vaddq_u64(a0, a1), vaddq_u64(a2, a3));
  return vgetq_lane_u64(s, 0) + vgetq_lane_u64(s, 1);
#else
  uint64_t s[4] = {0, 0, 0, 0};
  for (size_t i = 0; i + 32 <= n; i += 32)
    for (int j = 0; j < 4; ++j) {
      uint64_t v;
      std::memcpy(&v, p + i + 8 * j, 8);
      s[j] += v;
    }
  return s[0] + s[1] + s[2] + s[3];
#endif
}

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

}  // namespace

double measure_read_bandwidth_gbs(ThreadPool& pool, size_t bytes, int reps) {
  const int nt = pool.size();
  const size_t chunk = std::max<size_t>(size_t(1) << 20, bytes / static_cast<size_t>(nt)) / 4096 * 4096;
  const size_t total = chunk * static_cast<size_t>(nt);
  std::unique_ptr<uint8_t, FreeDeleter> buf(static_cast<uint8_t*>(std::aligned_alloc(4096, total)));
  if (!buf) fail(ErrorCode::kInternal, "membw: cannot allocate " + std::to_string(total >> 20) + " MiB");
#if defined(__x86_64__)
  const bool avx2 = cpu_features().avx2;
#endif
  // Each thread first-touches (and later reads) its own chunk, so NUMA placement is local.
  pool.run([&](int i, int) {
    uint8_t* p = buf.get() + static_cast<size_t>(i) * chunk;
    for (size_t k = 0; k < chunk; k += 64) std::memset(p + k, static_cast<int>((k >> 6) & 0xff), 64);
  });
  std::atomic<uint64_t> sink{0};
  double best = 0;
  for (int r = 0; r < std::max(1, reps) + 1; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.run([&](int i, int) {
      const uint8_t* p = buf.get() + static_cast<size_t>(i) * chunk;
#if defined(__x86_64__)
      const uint64_t s = avx2 ? sum_avx2(p, chunk) : sum_generic(p, chunk);
#else
      const uint64_t s = sum_generic(p, chunk);
#endif
      sink.fetch_add(s, std::memory_order_relaxed);
    });
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) best = std::max(best, static_cast<double>(total) / sec / 1e9);  // pass 0 warms up
  }
  if (sink.load() == 0x5eed) best += 0;  // keeps the sums observable
  return best;
}

}  // namespace edgevl

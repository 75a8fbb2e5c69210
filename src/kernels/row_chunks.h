// Splitting the output rows of a matrix product over a thread pool.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>

#include "core/thread_pool.h"

namespace edgevl {

// Splits rows [0, n) into chunks handed out on demand: a thread that is slow (a LITTLE
// core on big.LITTLE boards, or one the OS preempted) takes fewer chunks instead of
// holding everyone up, as a static equal split would. Chunks stay contiguous, so each
// thread still streams its weight rows sequentially. Every chunk but the last is a
// multiple of align rows.
template <typename F>
void for_row_chunks(ThreadPool* pool, int64_t n, int64_t align, F&& fn) {
  const int nt = pool ? pool->size() : 1;
  if (nt == 1 || n <= align) {
    fn(0, n);
    return;
  }
  int64_t chunk = (n + nt * 8 - 1) / (nt * 8);  // ~8 chunks per thread
  chunk = std::max(align, (chunk + align - 1) / align * align);
  std::atomic<int64_t> next{0};
  pool->share([&](int, int) {
    for (;;) {
      const int64_t b = next.fetch_add(chunk, std::memory_order_relaxed);
      if (b >= n) break;
      fn(b, std::min(n, b + chunk));
    }
  });
}

}  // namespace edgevl

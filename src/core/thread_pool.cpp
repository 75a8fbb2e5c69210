#include "core/thread_pool.h"

#include <algorithm>

namespace edgevl {

int default_thread_count() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

// Busy-wait steps before yielding, then yields before sleeping (workers) or between
// checks (the caller, waiting for a worker the OS may have preempted). A pause is
// ~10-140 cycles depending on the CPU: the spin covers the gap between two kernels of a
// decode step, a fraction of a millisecond at most.
static constexpr int kSpin = 20000, kYields = 50;

static inline void cpu_relax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
    generation_.fetch_add(1);
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Spin a little: the next job of a decode step usually comes within microseconds.
    uint64_t g = generation_.load(std::memory_order_acquire);
    for (int spin = 0; g == seen && spin < kSpin + kYields; ++spin) {
      if (spin < kSpin)
        cpu_relax();
      else
        std::this_thread::yield();  // let another process have the core for a while
      g = generation_.load(std::memory_order_acquire);
    }
    if (g == seen) {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return generation_.load() != seen; });
      g = generation_.load();
    }
    seen = g;
    if (stop_) return;
    try {
      (*job_)(index, n_threads_);
    } catch (...) {
      std::lock_guard<std::mutex> lk(error_mu_);
      if (!error_) error_ = std::current_exception();
    }
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    job_ = &fn;
    pending_.store(n_threads_ - 1);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  cv_.notify_all();
  std::exception_ptr mine;
  try {
    fn(0, n_threads_);
  } catch (...) {
    mine = std::current_exception();
  }
  // Wait for every worker even when fn threw: they still use fn.
  for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
    if (spin < kSpin)
      cpu_relax();
    else
      std::this_thread::yield();
  }
  std::exception_ptr theirs;
  {
    std::lock_guard<std::mutex> lk(error_mu_);
    theirs = error_;
    error_ = nullptr;
  }
  if (mine) std::rethrow_exception(mine);
  if (theirs) std::rethrow_exception(theirs);
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  int nt = static_cast<int>(std::min<int64_t>(n, n_threads_));
  if (nt == 1) {
    fn(0, n);
    return;
  }
  run([&](int i, int t) {
    int64_t chunk = (n + t - 1) / t;
    int64_t b = i * chunk, e = std::min(n, b + chunk);
    if (b < e) fn(b, e);
  });
}

}  // namespace edgevl

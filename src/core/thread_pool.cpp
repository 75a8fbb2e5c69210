#include "core/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

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

// Contention detection (share()): a job is late when the caller waited on workers for
// more than kLateSeconds and longer than its own part took (a worker that is merely
// finishing its last chunk keeps the wait under the caller's own time; one that was
// preempted makes it a scheduler time slice, ~1-4 ms). kLateJobs late jobs out of
// kWindowJobs start a solo period, from kSoloFirst doubling up to kSoloMax while the
// probes after each period still find workers late.
static constexpr double kLateSeconds = 200e-6, kSoloFirst = 0.02, kSoloMax = 1.0;
static constexpr int kWindowJobs = 64, kLateJobs = 3;

static int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  const char* fixed = std::getenv("EDGEVL_POOL_FIXED");
  adaptive_ = !(fixed && std::strcmp(fixed, "1") == 0);
  solo_seconds_ = kSoloFirst;
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
  double own;
  run_timed(fn, &own);
}

void ThreadPool::share(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1 || !adaptive_) {
    run(fn);
    return;
  }
  if (solo_until_ns_ != 0) {
    if (now_ns() < solo_until_ns_) {
      ++solo_jobs_;
      fn(0, 1);
      return;
    }
    solo_until_ns_ = 0;  // probe the workers again
    late_in_window_ = jobs_in_window_ = 0;
  }
  double own = 0;
  const double waited = run_timed(fn, &own);
  if (waited > kLateSeconds && waited > own) ++late_in_window_;
  if (late_in_window_ >= kLateJobs) {
    solo_until_ns_ = now_ns() + static_cast<int64_t>(solo_seconds_ * 1e9);
    solo_seconds_ = std::min(kSoloMax, 2 * solo_seconds_);
    late_in_window_ = jobs_in_window_ = 0;
  } else if (++jobs_in_window_ == kWindowJobs) {
    if (late_in_window_ == 0) solo_seconds_ = kSoloFirst;  // a clean window: workers are on time again
    late_in_window_ = jobs_in_window_ = 0;
  }
}

double ThreadPool::run_timed(const std::function<void(int, int)>& fn, double* own) {
  if (n_threads_ == 1) {
    fn(0, 1);
    *own = 0;
    return 0;
  }
  const int64_t t0 = now_ns();
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
  const int64_t t1 = now_ns();
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
  *own = static_cast<double>(t1 - t0) * 1e-9;
  const double waited = static_cast<double>(now_ns() - t1) * 1e-9;
  if (mine) std::rethrow_exception(mine);
  if (theirs) std::rethrow_exception(theirs);
  return waited;
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  int nt = static_cast<int>(std::min<int64_t>(n, n_threads_));
  if (nt == 1) {
    fn(0, n);
    return;
  }
  share([&](int i, int t) {
    int64_t chunk = (n + t - 1) / t;
    int64_t b = i * chunk, e = std::min(n, b + chunk);
    if (b < e) fn(b, e);
  });
}

}  // namespace edgevl

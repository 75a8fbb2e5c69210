// A fixed set of worker threads that run one job at a time, each thread taking its
// share by index. Kernels split their own work (rows of a matrix, heads of attention);
// the pool only wakes threads and waits for them. Workers spin briefly (decode issues
// many tiny jobs back to back), then yield, then sleep, so an idle pool does not burn
// cores another process needs. An exception thrown by a job on any thread is caught
// there and rethrown by run() on the caller once every thread is done.
//
// Contention: a job ends only when its slowest thread does, and a worker whose core was
// taken by another process can be off the CPU for milliseconds, while a decode step is
// hundreds of jobs of tens of microseconds each. share() watches for that (the caller
// waiting on workers for longer than its own part took, again and again) and then runs
// jobs on the caller alone for a while, probing the workers again later, with a longer
// pause each time they are still late. So a busy neighbour costs at most what one
// thread would be slower, instead of a wait per job. EDGEVL_POOL_FIXED=1 turns this off.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace edgevl {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);  // n_threads >= 1, counting the caller
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(thread_index, n_threads) on every thread (the caller is index 0); returns
  // when all are done, rethrowing the first exception any of them threw. Not reentrant:
  // a job must not call run() on the same pool.
  void run(const std::function<void(int, int)>& fn);

  // Work sharing: calls fn(thread_index, n) for every index in [0, n), where n is
  // size() or, while workers are being preempted (see above), 1 (the caller alone).
  // For jobs that divide their work by n or hand it out on demand.
  void share(const std::function<void(int, int)>& fn);

  // Splits [0, n) into contiguous chunks, one per sharing thread (share), and calls fn(begin, end).
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn);

  // Jobs share() has run on the caller alone because workers were late (for tests and stats).
  int64_t solo_jobs() const { return solo_jobs_; }

 private:
  void worker(int index);
  // run() on every thread; returns how long the caller waited for the workers after its
  // own part (seconds) and sets *own to the time its part took.
  double run_timed(const std::function<void(int, int)>& fn, double* own);

  int n_threads_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex error_mu_;
  std::exception_ptr error_;  // the first exception of the current job

  // share()'s contention state; used only by the (one at a time) calling thread.
  bool adaptive_ = true;
  int late_in_window_ = 0, jobs_in_window_ = 0;
  double solo_seconds_ = 0;    // length of the next solo period
  int64_t solo_until_ns_ = 0;  // steady-clock time until which share() runs solo
  int64_t solo_jobs_ = 0;
};

// Default thread count: the machine's cores (hardware_concurrency), at least 1.
int default_thread_count();

}  // namespace edgevl

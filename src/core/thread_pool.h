// A fixed set of worker threads that run one job at a time, each thread taking its
// share by index. Kernels split their own work (rows of a matrix, heads of attention);
// the pool only wakes threads and waits for them. Workers spin briefly (decode issues
// many tiny jobs back to back), then yield, then sleep, so an idle pool does not burn
// cores another process needs. An exception thrown by a job on any thread is caught
// there and rethrown by run() on the caller once every thread is done.
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

  // Splits [0, n) into contiguous chunks, one per thread, and calls fn(begin, end).
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void worker(int index);

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
};

// Default thread count: the machine's cores (hardware_concurrency), at least 1.
int default_thread_count();

}  // namespace edgevl

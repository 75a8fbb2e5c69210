// The inference scheduler: a fixed number of worker threads (--parallel) run
// generations, and a bounded FIFO (--max-queue) holds the requests waiting for one.
// When both are full a request is refused at once (HTTP 429) instead of piling up
// behind work that could take minutes on a small CPU.
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace edgevl_server {

class Scheduler {
 public:
  Scheduler(int workers, int max_queue);
  ~Scheduler();  // runs what is queued, then joins

  // Queues the task; false when the queue is full (the caller answers 429).
  bool try_submit(std::function<void()> task);
  // Stops accepting; queued tasks still run (they see the server stopping and end fast).
  void shutdown();

  int queued() const;
  int running() const;
  int workers() const { return int(threads_.size()); }
  int max_queue() const { return max_queue_; }

 private:
  void loop();
  const int max_queue_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  int running_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace edgevl_server

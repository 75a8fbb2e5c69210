#include "scheduler.h"

namespace edgevl_server {

Scheduler::Scheduler(int workers, int max_queue) : max_queue_(max_queue < 0 ? 0 : max_queue) {
  for (int i = 0; i < (workers < 1 ? 1 : workers); ++i) threads_.emplace_back([this] { loop(); });
}

Scheduler::~Scheduler() {
  shutdown();
  for (auto& t : threads_) t.join();
}

bool Scheduler::try_submit(std::function<void()> task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stop_) return false;
  // Room = idle workers + queue slots: a request goes straight to an idle worker even
  // with --max-queue 0.
  const int capacity = int(threads_.size()) + max_queue_;
  if (running_ + int(tasks_.size()) >= capacity) return false;
  tasks_.push_back(std::move(task));
  cv_.notify_one();
  return true;
}

void Scheduler::shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  stop_ = true;
  cv_.notify_all();
}

int Scheduler::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return int(tasks_.size());
}

int Scheduler::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_;
}

void Scheduler::loop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping and drained
      task = std::move(tasks_.front());
      tasks_.pop_front();
      ++running_;
    }
    task();  // tasks report their own failures; nothing escapes here
    std::lock_guard<std::mutex> lock(mu_);
    --running_;
  }
}

}  // namespace edgevl_server

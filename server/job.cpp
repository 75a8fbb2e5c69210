#include "job.h"

namespace edgevl_server {

void Job::send(JobEvent ev) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(ev));
  }
  cv_.notify_one();
}

bool Job::next(JobEvent& ev, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return false;
  ev = std::move(events_.front());
  events_.pop_front();
  return true;
}

void Job::cancel() {
  cancelled_.store(true);
  // Under the lock: the worker cannot detach (and hand the session to another request)
  // between our reading the pointer and aborting it.
  std::lock_guard<std::mutex> lock(session_mu_);
  if (session_) edgevl_abort(session_);
}

void Job::attach(edgevl_session* s) {
  std::lock_guard<std::mutex> lock(session_mu_);
  session_ = s;
}

void Job::detach() {
  std::lock_guard<std::mutex> lock(session_mu_);
  session_ = nullptr;
}

}  // namespace edgevl_server

// A run's cancellation request, polled by long computations at cheap points (between
// vision blocks, between decoder layers, prefill chunks, decode steps). It watches up
// to two flags (e.g. the caller's per-run token and the session's own abort flag) and
// never owns them: the flags must outlive every check.
#pragma once
#include <atomic>

#include "core/error.h"

namespace edgevl {

class Cancel {
 public:
  Cancel() = default;
  explicit Cancel(const std::atomic<bool>* a, const std::atomic<bool>* b = nullptr) : a_(a), b_(b) {}

  bool requested() const {
    return (a_ && a_->load(std::memory_order_relaxed)) || (b_ && b_->load(std::memory_order_relaxed));
  }
  // Throws Error(kAborted) naming the stage when cancellation was requested.
  void check(const char* stage) const {
    if (requested()) fail(ErrorCode::kAborted, std::string("aborted during ") + stage);
  }

 private:
  const std::atomic<bool>* a_ = nullptr;
  const std::atomic<bool>* b_ = nullptr;
};

}  // namespace edgevl

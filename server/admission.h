// Admission control for chat requests: at most N of them inside the server at once,
// counted from the moment their headers arrive, before any byte of the body is read,
// parsed, base64-decoded or hashed. A request that finds every slot taken is refused at
// once (429), so a burst of large bodies costs at most N bodies of memory, never one per
// connection. A slot is held until the request's generation has ended.
#pragma once
#include <memory>
#include <mutex>

namespace edgevl_server {

class Admission {
 public:
  explicit Admission(int slots) : slots_(slots < 1 ? 1 : slots) {}
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  // A ticket holds one slot until the last copy of it is destroyed; null when every slot
  // is taken. The Admission must outlive its tickets.
  using Ticket = std::shared_ptr<const void>;
  Ticket try_enter() {
    std::lock_guard<std::mutex> lock(mu_);
    if (in_use_ >= slots_) return nullptr;
    ++in_use_;
    return Ticket(this, [](const void* self) { static_cast<Admission*>(const_cast<void*>(self))->leave(); });
  }

  int in_use() const {
    std::lock_guard<std::mutex> lock(mu_);
    return in_use_;
  }
  int slots() const { return slots_; }

 private:
  void leave() {
    std::lock_guard<std::mutex> lock(mu_);
    --in_use_;
  }
  const int slots_;
  mutable std::mutex mu_;
  int in_use_ = 0;
};

}  // namespace edgevl_server

#include "session_pool.h"

#include <algorithm>

#include "api_error.h"

namespace edgevl_server {

SessionPool::SessionPool(const edgevl_model* model, const edgevl_session_params& base, size_t max_sessions)
    : model_(model), base_(base), max_(std::max<size_t>(1, max_sessions)) {}

SessionPool::~SessionPool() {
  for (auto& s : slots_) edgevl_session_free(s->session);
}

Lease SessionPool::acquire(const ChatRequest& req) {
  edgevl_session* victim = nullptr;
  Lease lease;
  {
    std::lock_guard<std::mutex> lock(mu_);
    PooledSession* best = nullptr;
    for (auto& s : slots_) {
      if (s->busy || !s->session || s->keys.size() >= req.messages.size()) continue;
      if (!std::equal(s->keys.begin(), s->keys.end(), req.messages.begin(), [](const std::string& k, const ChatMessage& m) { return k == m.key; }))
        continue;
      if (!best || s->keys.size() > best->keys.size() || (s->keys.size() == best->keys.size() && s->last_used > best->last_used)) best = s.get();
    }
    if (best) {
      best->busy = true;
      best->last_used = ++clock_;
      lease.slot = best;
      lease.matched = best->keys.size();
      if (lease.matched > 0) ++counters_.hits;
      else ++counters_.misses;
      return lease;
    }
    ++counters_.misses;
    // A miss: make room by freeing the least recently used idle session.
    if (slots_.size() >= max_) {
      auto lru = slots_.end();
      for (auto it = slots_.begin(); it != slots_.end(); ++it)
        if (!(*it)->busy && (lru == slots_.end() || (*it)->last_used < (*lru)->last_used)) lru = it;
      if (lru == slots_.end()) throw ApiError(503, "no_free_session", "every session is busy; retry later", "", "server_error");
      victim = (*lru)->session;
      slots_.erase(lru);
      ++counters_.evicted;
    }
    auto slot = std::make_unique<PooledSession>();
    slot->busy = true;
    slot->last_used = ++clock_;
    slot->id = next_id_++;
    lease.slot = slot.get();
    slots_.push_back(std::move(slot));
  }
  // Freeing and creating (allocating a KV cache) happen outside the lock so that other
  // requests can look up their sessions meanwhile.
  edgevl_session_free(victim);
  edgevl_session* s = nullptr;
  if (edgevl_session_create(model_, &base_, &s) != EDGEVL_OK) {
    const std::string why = edgevl_last_error();
    discard(lease);
    throw ApiError(500, "session_create_failed", "could not create a session: " + why, "", "server_error");
  }
  std::lock_guard<std::mutex> lock(mu_);
  lease.slot->session = s;
  ++counters_.created;
  return lease;
}

void SessionPool::release(Lease& lease, std::vector<std::string> conversation) {
  std::lock_guard<std::mutex> lock(mu_);
  lease.slot->keys = std::move(conversation);
  lease.slot->busy = false;
  lease.slot->last_used = ++clock_;
  lease.slot = nullptr;
}

void SessionPool::discard(Lease& lease) {
  edgevl_session* s = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find_if(slots_.begin(), slots_.end(), [&](const auto& p) { return p.get() == lease.slot; });
    if (it != slots_.end()) {
      s = (*it)->session;
      slots_.erase(it);
    }
    lease.slot = nullptr;
  }
  edgevl_session_free(s);
}

void SessionPool::abort_all() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& s : slots_)
    if (s->busy && s->session) edgevl_abort(s->session);
}

PoolStats SessionPool::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  PoolStats st = counters_;
  st.live = slots_.size();
  st.max = max_;
  for (auto& s : slots_) st.busy += s->busy ? 1 : 0;
  return st;
}

}  // namespace edgevl_server

// Up to N live edgevl_sessions, each remembering the conversation it holds (message
// keys: roles + text + image hashes, system messages included, and the replies it
// generated). A request takes the idle session whose conversation is the longest prefix
// of its own messages, so a follow-up prefills only what is new; on a miss the least
// recently used idle session is freed to make room for a fresh one.
//
// A session is checked out (busy) while one request runs on it, so an edgevl_session is
// never used by two threads at once, as the C API requires.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "chat_request.h"
#include "edgevl.h"

namespace edgevl_server {

struct PooledSession {
  edgevl_session* session = nullptr;
  std::vector<std::string> keys;   // the conversation held, message by message
  bool busy = false;
  uint64_t last_used = 0;
  uint64_t id = 0;
};

struct Lease {
  PooledSession* slot = nullptr;
  size_t matched = 0;  // request messages already in the session (not to be sent again)
};

struct PoolStats {
  size_t live = 0, busy = 0, max = 0;
  uint64_t created = 0, evicted = 0, hits = 0, misses = 0;
};

class SessionPool {
 public:
  SessionPool(const edgevl_model* model, const edgevl_session_params& base, size_t max_sessions);
  ~SessionPool();
  SessionPool(const SessionPool&) = delete;
  SessionPool& operator=(const SessionPool&) = delete;

  // Checks out the best session for the request (or a new one). Throws ApiError (503
  // when every session is busy, 500 when a session cannot be created).
  Lease acquire(const ChatRequest& req);
  // Returns the session with the conversation it now holds.
  void release(Lease& lease, std::vector<std::string> conversation);
  // Frees it (its state is unknown after an internal error).
  void discard(Lease& lease);
  // Asks every running generation to stop (shutdown).
  void abort_all();

  PoolStats stats() const;

 private:
  const edgevl_model* model_;
  edgevl_session_params base_;
  size_t max_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<PooledSession>> slots_;
  uint64_t clock_ = 0, next_id_ = 1;
  PoolStats counters_;
};

}  // namespace edgevl_server

// Runs one Job on a worker thread: takes the best session from the pool, sends only
// the messages the session has not seen, streams the reply into the job (stop sequences
// applied), records usage/timings/metrics and gives the session back with the
// conversation it now holds.
#pragma once
#include <atomic>

#include "edgevl.h"
#include "job.h"
#include "metrics.h"
#include "session_pool.h"

namespace edgevl_server {

struct GenerationConfig {
  int32_t default_max_tokens = 512;            // when the request gives none
  edgevl_sampling_params sampling{};           // defaults for fields the request leaves out
  const std::atomic<bool>* stopping = nullptr;  // set on shutdown: end runs early
  bool literal_text = true;                     // message text cannot hold control tokens (see --parse-special)
};

void run_job(Job& job, SessionPool& pool, const GenerationConfig& cfg, Metrics& metrics);

// Maps a runtime failure to the HTTP error a client should see.
ApiError error_from_status(edgevl_status st, const std::string& message);

}  // namespace edgevl_server

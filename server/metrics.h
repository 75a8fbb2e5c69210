// Server counters for GET /metrics: responses by status, time to first token and
// latency (average, p50, p95 over the last 1024 completions), token totals, session
// cache hits. Cheap to update from any thread.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace edgevl_server {

struct CompletionSample {
  double queue_ms = 0;     // waiting for a worker
  double ttft_ms = 0;      // request arrival to first generated token (server side)
  double latency_ms = 0;   // request arrival to the end of generation
  int64_t prompt_tokens = 0, prefill_tokens = 0, cached_tokens = 0, completion_tokens = 0, image_tokens = 0;
  double prefill_ms = 0, decode_ms = 0, image_encode_ms = 0;
  bool cache_hit = false;
  bool streamed = false;
};

// A window of recent values with summary statistics.
class Window {
 public:
  void add(double v);
  nlohmann::json summary() const;  // {"count","avg","p50","p95","max"}
 private:
  std::vector<double> v_;
  size_t next_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics() : start_(std::chrono::steady_clock::now()) {}
  void count_response(int status);
  void record_completion(const CompletionSample& s);
  void record_client_abort();
  void record_error(const std::string& code);
  // Live values (queue, sessions) are passed in by the caller that owns them.
  nlohmann::json to_json(const nlohmann::json& live) const;

 private:
  mutable std::mutex mu_;
  std::chrono::steady_clock::time_point start_;
  std::map<int, uint64_t> by_status_;
  std::map<std::string, uint64_t> errors_;
  uint64_t completions_ = 0, streamed_ = 0, client_aborts_ = 0, cache_hits_ = 0;
  int64_t prompt_tokens_ = 0, prefill_tokens_ = 0, cached_tokens_ = 0, completion_tokens_ = 0, image_tokens_ = 0;
  double prefill_ms_ = 0, decode_ms_ = 0;
  Window queue_, ttft_, latency_, decode_tps_;
};

}  // namespace edgevl_server

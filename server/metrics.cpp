#include "metrics.h"

#include <algorithm>
#include <cmath>

namespace edgevl_server {

namespace {
constexpr size_t kWindow = 1024;
double round2(double v) { return std::round(v * 100.0) / 100.0; }
}  // namespace

void Window::add(double v) {
  if (v_.size() < kWindow) v_.push_back(v);
  else v_[next_] = v;
  next_ = (next_ + 1) % kWindow;
  ++count_;
}

nlohmann::json Window::summary() const {
  if (v_.empty()) return {{"count", 0}, {"avg", nullptr}, {"p50", nullptr}, {"p95", nullptr}, {"max", nullptr}};
  std::vector<double> s(v_);
  std::sort(s.begin(), s.end());
  double sum = 0;
  for (double x : s) sum += x;
  // Nearest-rank percentiles: an observed value, never an interpolation.
  auto pct = [&](double p) { return s[std::min(s.size() - 1, size_t(std::ceil(p * s.size())) - 1)]; };
  return {{"count", count_}, {"avg", round2(sum / s.size())}, {"p50", round2(pct(0.50))}, {"p95", round2(pct(0.95))}, {"max", round2(s.back())}};
}

void Metrics::count_response(int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++by_status_[status];
}

void Metrics::record_completion(const CompletionSample& s) {
  std::lock_guard<std::mutex> lock(mu_);
  ++completions_;
  streamed_ += s.streamed;
  cache_hits_ += s.cache_hit;
  prompt_tokens_ += s.prompt_tokens;
  prefill_tokens_ += s.prefill_tokens;
  cached_tokens_ += s.cached_tokens;
  completion_tokens_ += s.completion_tokens;
  image_tokens_ += s.image_tokens;
  prefill_ms_ += s.prefill_ms;
  decode_ms_ += s.decode_ms;
  queue_.add(s.queue_ms);
  if (s.completion_tokens > 0) ttft_.add(s.ttft_ms);
  latency_.add(s.latency_ms);
  if (s.decode_ms > 0 && s.completion_tokens > 1) decode_tps_.add(s.completion_tokens * 1000.0 / s.decode_ms);
}

void Metrics::record_client_abort() {
  std::lock_guard<std::mutex> lock(mu_);
  ++client_aborts_;
}

void Metrics::record_error(const std::string& code) {
  std::lock_guard<std::mutex> lock(mu_);
  ++errors_[code];
}

nlohmann::json Metrics::to_json(const nlohmann::json& live) const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json status = nlohmann::json::object();
  uint64_t total = 0;
  for (auto& [code, n] : by_status_) {
    status[std::to_string(code)] = n;
    total += n;
  }
  const double up = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  nlohmann::json j = {
      {"uptime_s", round2(up)},
      {"requests", {{"total", total}, {"by_status", status}, {"errors_by_code", errors_}}},
      {"completions", {{"total", completions_}, {"streamed", streamed_}, {"client_aborts", client_aborts_}}},
      {"ttft_ms", ttft_.summary()},
      {"latency_ms", latency_.summary()},
      {"queue_wait_ms", queue_.summary()},
      {"decode_tokens_per_s", decode_tps_.summary()},
      {"tokens",
       {{"prompt", prompt_tokens_},
        {"prefill", prefill_tokens_},
        {"cached", cached_tokens_},
        {"completion", completion_tokens_},
        {"image", image_tokens_},
        {"prefill_tokens_per_s", prefill_ms_ > 0 ? round2(prefill_tokens_ * 1000.0 / prefill_ms_) : 0.0},
        {"decode_tokens_per_s", decode_ms_ > 0 ? round2(completion_tokens_ * 1000.0 / decode_ms_) : 0.0}}},
      {"cache", {{"hits", cache_hits_}, {"misses", completions_ - cache_hits_}, {"cached_tokens", cached_tokens_}}},
  };
  for (auto& [k, v] : live.items()) j[k] = v;
  return j;
}

}  // namespace edgevl_server

// One chat completion in flight: the parsed request, the events the generating worker
// sends to the HTTP thread (text deltas, then one end event), and cancellation. The HTTP
// thread and the worker share it through a shared_ptr, so either may finish first.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "api_error.h"
#include "chat_request.h"
#include "edgevl.h"

namespace edgevl_server {

using Clock = std::chrono::steady_clock;

inline double ms_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

struct Usage {
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
};

struct Timings {
  double queue_ms = 0, ttft_ms = 0, image_encode_ms = 0, prefill_ms = 0, decode_ms = 0;
  int64_t prefill_tokens = 0, decode_tokens = 0, image_tokens = 0, kv_tokens = 0;
  int32_t images = 0;
  double prefill_tokens_per_s = 0, decode_tokens_per_s = 0;
};

struct JobEvent {
  enum Kind { Delta, Done, Failed } kind = Delta;
  std::string text;  // Delta: new content
};

class Job {
 public:
  Job(ChatRequest req, std::string id) : request(std::move(req)), id(std::move(id)), arrival(Clock::now()) {}

  const ChatRequest request;
  const std::string id;        // "chatcmpl-..."
  const Clock::time_point arrival;

  // Written by the worker before it sends Done/Failed; read by the HTTP thread after.
  std::string content;         // the reply as the client sees it (stop sequences cut)
  std::string finish_reason;   // "stop" | "length"
  Usage usage;
  Timings timings;
  std::optional<ApiError> error;

  void send(JobEvent ev);
  // Waits up to timeout for the next event; false on timeout.
  bool next(JobEvent& ev, std::chrono::milliseconds timeout);

  // Stops the generation soon (client gone, shutdown). Safe from any thread.
  void cancel();
  bool cancelled() const { return cancelled_.load(); }
  // The worker registers the session it runs on, so cancel() can abort it.
  void attach(edgevl_session* s);
  void detach();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<JobEvent> events_;
  std::atomic<bool> cancelled_{false};
  std::mutex session_mu_;
  edgevl_session* session_ = nullptr;
};

}  // namespace edgevl_server

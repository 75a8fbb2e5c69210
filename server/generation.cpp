#include "generation.h"

#include <random>

#include "capi/c_api_internal.h"
#include "prompt_builder.h"
#include "stop_matcher.h"

namespace edgevl_server {

ApiError error_from_status(edgevl_status st, const std::string& message) {
  switch (st) {
    case EDGEVL_ERR_CONTEXT_OVERFLOW: return ApiError(400, "context_length_exceeded", message, "messages");
    case EDGEVL_ERR_INVALID_ARGUMENT: return ApiError(400, "invalid_request", message);
    case EDGEVL_ERR_FORMAT: return ApiError(400, "invalid_image", message, "messages");
    case EDGEVL_ERR_UNSUPPORTED: return ApiError(400, "unsupported", message);
    case EDGEVL_ERR_ABORTED: return ApiError(503, "aborted", message.empty() ? "the request was cancelled" : message, "", "server_error");
    case EDGEVL_ERR_BUSY: return ApiError(503, "busy", message, "", "server_error");
    default: return ApiError(500, "internal_error", message, "", "server_error");
  }
}

namespace {

// State shared with the runtime's token callback (which runs on this worker thread).
struct RunState {
  Job* job;
  const std::atomic<bool>* stopping;
  StopMatcher stop;
  std::string raw;  // everything generated (before stop sequences): what the session holds
  bool first_token_seen = false;
  Clock::time_point first_token;
  std::string finish_reason;
  edgevl_perf perf{};
  bool have_perf = false;
  edgevl_status error_status = EDGEVL_OK;
  std::string error_message;

  RunState(Job* j, const std::atomic<bool>* stopping) : job(j), stopping(stopping), stop(j->request.stop) {}
  bool should_end() const { return stop.stopped() || job->cancelled() || (stopping && stopping->load()); }

  void emit(const std::string& piece) {
    raw += piece;
    std::string out = stop.push(piece);
    if (!out.empty()) {
      job->content += out;
      job->send({JobEvent::Delta, std::move(out)});
    }
  }
};

int on_result(const edgevl_result* r, void* user) {
  auto* st = static_cast<RunState*>(user);
  switch (r->state) {
    case EDGEVL_STATE_NORMAL:
    case EDGEVL_STATE_WAITING:
      if (!st->first_token_seen) {
        st->first_token_seen = true;
        st->first_token = Clock::now();
      }
      if (r->state == EDGEVL_STATE_NORMAL && r->text_len > 0) st->emit(sanitize_utf8(std::string(r->text, r->text_len)));
      // Non-zero stops the run: a stop sequence was completed, the client left, or the
      // server is shutting down.
      return st->should_end() ? 1 : 0;
    case EDGEVL_STATE_FINISH:
      st->finish_reason = r->finish_reason ? r->finish_reason : "stop";
      break;
    case EDGEVL_STATE_ERROR:
      st->error_status = r->status;
      st->error_message = r->error ? r->error : "";
      break;
  }
  if (r->perf) {
    st->perf = *r->perf;
    st->have_perf = true;
  }
  return 0;
}

edgevl_sampling_params sampling_for(const ChatRequest& req, const GenerationConfig& cfg) {
  edgevl_sampling_params s = cfg.sampling;
  if (req.temperature) s.temperature = *req.temperature;
  if (req.top_p) s.top_p = *req.top_p;
  if (req.top_k) s.top_k = *req.top_k;
  if (req.presence_penalty) s.presence_penalty = *req.presence_penalty;
  if (req.frequency_penalty) s.frequency_penalty = *req.frequency_penalty;
  if (req.seed) {
    s.seed = *req.seed;
  } else {
    // OpenAI semantics: without a seed, sampled replies differ from call to call.
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    s.seed = rng();
  }
  return s;
}

// Runs one message on the session and waits for it. Started asynchronously so that a
// cancellation can never fall between "not cancelled yet" and the run's start: once the
// run exists, either this check sees the job cancelled or Job::cancel() finds the run
// attached and aborts it.
edgevl_status run_message(Job& job, const GenerationConfig& cfg, edgevl_session* session, const edgevl_message& msg,
                          const edgevl_run_params* params, edgevl_callback cb, void* user) {
  const edgevl_status started = edgevl_run_async(session, &msg, params, cb, user);
  if (started != EDGEVL_OK) return started;
  if (job.cancelled() || (cfg.stopping && cfg.stopping->load())) edgevl_abort(session);
  return edgevl_wait(session);
}

void fail(Job& job, Metrics& metrics, ApiError err) {
  metrics.record_error(err.code);
  job.error = std::move(err);
  job.send({JobEvent::Failed, ""});
}

}  // namespace

void run_job(Job& job, SessionPool& pool, const GenerationConfig& cfg, Metrics& metrics) {
  const Clock::time_point start = Clock::now();
  job.timings.queue_ms = ms_between(job.arrival, start);
  if (job.cancelled() || (cfg.stopping && cfg.stopping->load()))
    return fail(job, metrics, error_from_status(EDGEVL_ERR_ABORTED, "cancelled before it started"));
  const ChatRequest& req = job.request;

  Lease lease;
  try {
    lease = pool.acquire(req);
  } catch (const ApiError& e) {
    return fail(job, metrics, e);
  }
  edgevl_session* session = lease.slot->session;
  // The session is leased to this job, so reading its template does not race.
  const auto runs = plan_runs(req.messages, lease.matched, cfg.literal_text, session->session->chat_template());

  // What the session holds, message by message, as the runs succeed.
  std::vector<std::string> convo;
  convo.reserve(req.messages.size() + 1);
  for (size_t i = 0; i < lease.matched; ++i) convo.push_back(req.messages[i].key);
  auto held_through = [&](size_t end) {
    for (size_t i = convo.size(); i < end; ++i) convo.push_back(req.messages[i].key);
  };
  auto give_back = [&](edgevl_status st) {
    if (st == EDGEVL_ERR_INTERNAL) pool.discard(lease);  // its state is unknown
    else pool.release(lease, convo);  // the runtime rolled the failed turn back
  };

  int64_t kv_before = 0;
  edgevl_kv_size(session, &kv_before, nullptr);
  edgevl_perf sum{};  // prefill-side figures of every run of this request
  auto add_perf = [&](const edgevl_perf& p) {
    sum.prefill_tokens += p.prefill_tokens;
    sum.prefill_ms += p.prefill_ms;
    sum.images += p.images;
    sum.image_tokens += p.image_tokens;
    sum.image_encode_ms += p.image_encode_ms;
  };

  job.attach(session);
  // Leading system/assistant messages are inserted as they are (no reply).
  for (size_t k = 0; k + 1 < runs.size(); ++k) {
    const edgevl_status st = run_message(job, cfg, session, runs[k]->message, nullptr, nullptr, nullptr);
    if (st != EDGEVL_OK) {
      const std::string why = edgevl_last_error();
      job.detach();
      give_back(st);
      return fail(job, metrics, error_from_status(st, why));
    }
    edgevl_perf p{};
    edgevl_get_perf(session, &p, nullptr);
    add_perf(p);
    held_through(runs[k]->end);
  }

  edgevl_run_params rp = edgevl_run_default_params();
  rp.max_new_tokens = req.max_tokens > 0 ? req.max_tokens : cfg.default_max_tokens;
  const edgevl_sampling_params sampling = sampling_for(req, cfg);
  rp.sampling = &sampling;
  RunState st(&job, cfg.stopping);
  const edgevl_status status = run_message(job, cfg, session, runs.back()->message, &rp, on_result, &st);
  job.detach();
  const Clock::time_point end = Clock::now();

  if (status != EDGEVL_OK) {
    const std::string why = st.error_message.empty() ? edgevl_last_error() : st.error_message;
    if (status == EDGEVL_ERR_ABORTED && job.cancelled()) metrics.record_client_abort();  // the client left: the run was cut short
    give_back(status);
    return fail(job, metrics, error_from_status(status, why));
  }

  if (std::string rest = st.stop.flush(); !rest.empty()) {
    job.content += rest;
    job.send({JobEvent::Delta, rest});
  }

  // The session now holds the request's messages and the full generated reply. When a
  // stop sequence cut the reply, the client will echo the cut text, which will not
  // match: the next request then rebuilds rather than reuse a cache that differs.
  held_through(req.messages.size());
  convo.push_back(assistant_text_key(st.raw));
  pool.release(lease, std::move(convo));

  add_perf(st.perf);
  const edgevl_perf& p = st.perf;
  job.finish_reason = st.stop.stopped() || st.finish_reason == "stop" ? "stop" : "length";
  job.usage.cached_tokens = kv_before;
  job.usage.prompt_tokens = kv_before + sum.prefill_tokens;
  job.usage.completion_tokens = p.decode_tokens;
  Timings& t = job.timings;
  t.ttft_ms = st.first_token_seen ? ms_between(job.arrival, st.first_token) : 0;
  t.image_encode_ms = sum.image_encode_ms;
  t.images = sum.images;
  t.prefill_tokens = sum.prefill_tokens;
  t.image_tokens = sum.image_tokens;
  t.prefill_ms = sum.prefill_ms;
  t.decode_tokens = p.decode_tokens;
  t.decode_ms = p.decode_ms;
  t.prefill_tokens_per_s = sum.prefill_ms > 0 ? sum.prefill_tokens * 1000.0 / sum.prefill_ms : 0;
  t.decode_tokens_per_s = p.decode_tokens_per_s;
  t.kv_tokens = p.kv_tokens;

  CompletionSample s;
  s.queue_ms = t.queue_ms;
  s.ttft_ms = t.ttft_ms;
  s.latency_ms = ms_between(job.arrival, end);
  s.prompt_tokens = job.usage.prompt_tokens;
  s.prefill_tokens = sum.prefill_tokens;
  s.cached_tokens = kv_before;
  s.completion_tokens = p.decode_tokens;
  s.image_tokens = sum.image_tokens;
  s.prefill_ms = sum.prefill_ms;
  s.decode_ms = p.decode_ms;
  s.image_encode_ms = sum.image_encode_ms;
  s.cache_hit = lease.matched > 0 || kv_before > 0;
  s.streamed = req.stream;
  metrics.record_completion(s);
  if (job.cancelled()) metrics.record_client_abort();
  job.send({JobEvent::Done, ""});
}

}  // namespace edgevl_server

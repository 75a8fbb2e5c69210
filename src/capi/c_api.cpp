// The C API (include/edgevl.h) over Model and Session. Every entry point checks its
// handles and struct sizes, catches every exception, and reports through a status
// code plus a per-thread last-error string (set only by failed calls).
#include <pthread.h>
#include <sched.h>

#include <cstddef>
#include <cstring>

#include "capi/c_api_internal.h"
#include "core/timer.h"

using namespace edgevl;
using namespace edgevl_capi;

namespace edgevl_capi {

static thread_local std::string g_last_error;

void set_last_error(const std::string& msg) { g_last_error = msg; }

edgevl_status status_of(ErrorCode c) {
  switch (c) {
    case ErrorCode::kInvalidArgument: return EDGEVL_ERR_INVALID_ARGUMENT;
    case ErrorCode::kIo: return EDGEVL_ERR_IO;
    case ErrorCode::kFormat: return EDGEVL_ERR_FORMAT;
    case ErrorCode::kUnsupported: return EDGEVL_ERR_UNSUPPORTED;
    case ErrorCode::kContextOverflow: return EDGEVL_ERR_CONTEXT_OVERFLOW;
    case ErrorCode::kAborted: return EDGEVL_ERR_ABORTED;
    case ErrorCode::kBusy: return EDGEVL_ERR_BUSY;
    case ErrorCode::kInternal: return EDGEVL_ERR_INTERNAL;
  }
  return EDGEVL_ERR_INTERNAL;
}

}  // namespace edgevl_capi

static_assert(EDGEVL_DEFAULT_IMAGE_MAX_TOKENS == kDefaultMaxImageTokens, "the header states the library's default image budget");

namespace {

template <typename T>
void check_struct(const T* p, const char* name) {
  if (!p) invalid(std::string(name) + " is NULL");
  if (p->struct_size != sizeof(T))
    invalid(std::string(name) + ".struct_size is " + std::to_string(p->struct_size) + ", expected " + std::to_string(sizeof(T)) +
            " (initialise it with the matching *_default_params() function)");
}

// Session params from a caller built against this header or the first release's, whose
// struct ended before kv_type: the fields it has are read, the later ones keep their defaults.
edgevl_session_params session_params_of(const edgevl_session_params* p) {
  constexpr size_t kFirstRelease = offsetof(edgevl_session_params, kv_type);
  if (!p) invalid("session params is NULL");
  if (p->struct_size != sizeof *p && p->struct_size != kFirstRelease)
    invalid("session params.struct_size is " + std::to_string(p->struct_size) + ", expected " + std::to_string(sizeof *p) +
            " (initialise it with edgevl_session_default_params())");
  edgevl_session_params out = edgevl_session_default_params();
  std::memcpy(&out, p, p->struct_size);
  out.struct_size = sizeof out;
  return out;
}

edgevl_session* checked(const edgevl_session* s) {
  if (!s || !s->session) invalid("session is NULL");
  return const_cast<edgevl_session*>(s);
}

// Ends a call that claimed the session: refreshes what the calls allowed during a run
// report, drops the run's abort token and lets the next call in.
void end_call(edgevl_session* s) {
  const int64_t used = s->session->kv_size();
  const int32_t turns = s->session->turn_count();
  std::lock_guard<std::mutex> lk(s->mu);
  s->kv_used = used;
  s->turns = turns;
  s->cancel.reset();
  s->busy = false;
}

// Claims the session for one call (for a run: with a fresh abort token); a second call
// meanwhile gets BUSY. The claim ends when this is destroyed, unless handed to a worker.
class Claim {
 public:
  Claim(edgevl_session* s, bool run) : s_(s) {
    std::lock_guard<std::mutex> lk(s->mu);
    if (s->busy) fail(ErrorCode::kBusy, "the session is busy with another call (wait for the run to end, or call edgevl_abort)");
    s->busy = true;
    if (run) token_ = s->cancel = std::make_shared<std::atomic<bool>>(false);
  }
  ~Claim() {
    if (s_) end_call(s_);
  }
  Claim(const Claim&) = delete;
  Claim& operator=(const Claim&) = delete;
  void hand_over() { s_ = nullptr; }  // the worker thread ends the call
  const std::shared_ptr<std::atomic<bool>>& token() const { return token_; }

 private:
  edgevl_session* s_;
  std::shared_ptr<std::atomic<bool>> token_;
};

// The session whose async run this thread is (set on worker threads only).
thread_local const edgevl_session* t_worker_of = nullptr;

void join_worker(edgevl_session* s) {
  // A callback of the async run cannot wait for itself (and must not block on worker_mu,
  // which a waiting owner holds while it joins this very thread).
  if (t_worker_of == s) fail(ErrorCode::kBusy, "edgevl_wait called from the run's own callback");
  std::lock_guard<std::mutex> lk(s->worker_mu);
  if (s->worker.joinable()) s->worker.join();
}

void pin_threads(uint64_t mask) {
  if (!mask) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int i = 0; i < 64; ++i)
    if (mask >> i & 1) CPU_SET(i, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

struct RunSpec {
  Message msg;
  GenerationParams gen;
  TurnOptions opt;
  edgevl_mode mode = EDGEVL_MODE_GENERATE;
  std::shared_ptr<std::atomic<bool>> cancel;  // owned here, read by the runtime through opt.cancel
};

RunSpec make_run(edgevl_session* s, const edgevl_message* message, const edgevl_run_params* params,
                 const std::shared_ptr<std::atomic<bool>>& cancel) {
  edgevl_run_params rp = edgevl_run_default_params();
  if (params) {
    check_struct(params, "run params");
    rp = *params;
  }
  const int mode = enum_value(rp.mode);
  if (mode < EDGEVL_MODE_GENERATE || mode > EDGEVL_MODE_HIDDEN_STATE)
    invalid("run params: mode must be EDGEVL_MODE_GENERATE, _LOGITS or _HIDDEN_STATE (got " + std::to_string(mode) + ")");
  if (rp.keep_history != 0 && rp.keep_history != 1) invalid("run params: keep_history must be 0 or 1 (got " + std::to_string(rp.keep_history) + ")");
  if (rp.max_new_tokens < -1 || rp.max_new_tokens > (1 << 20))
    invalid("run params: max_new_tokens must be -1 (the session's) or 0..1048576 (got " + std::to_string(rp.max_new_tokens) + ")");
  if (rp.ignore_eos < -1 || rp.ignore_eos > 1)
    invalid("run params: ignore_eos must be -1 (the session's), 0 or 1 (got " + std::to_string(rp.ignore_eos) + ")");
  RunSpec r;
  r.mode = rp.mode;
  r.gen = s->session->params().generation;
  if (rp.max_new_tokens >= 0) r.gen.max_new_tokens = rp.max_new_tokens;
  if (rp.ignore_eos >= 0) r.gen.ignore_eos = rp.ignore_eos != 0;
  if (rp.sampling) r.gen.sampling = convert_sampling(*rp.sampling);
  r.opt.keep_history = rp.keep_history != 0;
  r.opt.generate = rp.mode == EDGEVL_MODE_GENERATE;
  r.opt.want_hidden = rp.mode == EDGEVL_MODE_HIDDEN_STATE;
  r.cancel = cancel;
  r.opt.cancel = r.cancel.get();
  r.msg = convert_message(message, s->session->params().image_limits, s->model->config().text.hidden_size);
  return r;
}

// Figures for a run that failed before or during chat(): what was measured (nothing,
// when the run did not start) plus the session's state.
edgevl_perf error_perf(const edgevl_session* s, bool session_is_ours) {
  edgevl_perf p{};
  if (s && s->model) p.model_load_ms = s->model->load_ms();
  if (s && s->session && session_is_ours) p.kv_tokens = s->session->kv_size();
  p.peak_rss_bytes = peak_rss_bytes();
  return p;
}

// Delivers an ERROR result carrying the thread's last error; the last error survives
// whatever the callback calls.
void report_error(edgevl_callback cb, void* user, edgevl_status st, const edgevl_perf& perf) {
  if (!cb) return;
  const std::string err = edgevl_last_error();
  edgevl_result r{};
  r.state = EDGEVL_STATE_ERROR;
  r.token_id = -1;
  r.status = st;
  r.error = err.c_str();
  r.perf = &perf;
  cb(&r, user);
  set_last_error(err);
}

void add_to_totals(edgevl_session* s, const edgevl_perf& perf) {
  std::lock_guard<std::mutex> lk(s->mu);
  s->last = perf;
  edgevl_perf& t = s->total;
  t.model_load_ms = perf.model_load_ms;
  t.image_encode_ms += perf.image_encode_ms;
  t.images += perf.images;
  t.images_encoded += perf.images_encoded;
  t.prefill_tokens += perf.prefill_tokens;
  t.image_tokens += perf.image_tokens;
  t.prefill_ms += perf.prefill_ms;
  t.ttft_ms += perf.ttft_ms;
  t.decode_tokens += perf.decode_tokens;
  t.decode_ms += perf.decode_ms;
  t.prefill_tokens_per_s = t.prefill_ms > 0 ? t.prefill_tokens * 1000.0 / t.prefill_ms : 0;
  t.decode_tokens_per_s = t.decode_ms > 0 ? t.decode_tokens * 1000.0 / t.decode_ms : 0;
  t.kv_tokens = perf.kv_tokens;
  t.peak_rss_bytes = perf.peak_rss_bytes;
}

// Runs a claimed session's turn and reports it through the callback.
edgevl_status execute(edgevl_session* s, const RunSpec& spec, edgevl_callback cb, void* user) {
  TurnResult res;
  const edgevl_status st = guarded([&] {
    res = s->session->chat(spec.msg, spec.gen, [&](int32_t id, const std::string& piece) {
      if (!cb) return true;
      edgevl_result r{};
      r.state = piece.empty() ? EDGEVL_STATE_WAITING : EDGEVL_STATE_NORMAL;
      r.text = piece.c_str();
      r.text_len = piece.size();
      r.token_id = id;
      return cb(&r, user) == 0;
    }, spec.opt);
  });
  if (st != EDGEVL_OK) {
    report_error(cb, user, st, error_perf(s, true));
    return st;
  }
  const edgevl_perf perf = convert_perf(res.stats, s->model->load_ms());
  add_to_totals(s, perf);
  if (!cb) return st;
  edgevl_result r{};
  if (!res.unstreamed_tail.empty() && !res.tokens.empty()) {
    // The reply ended inside a character: the bytes held back (as U+FFFD) belong to the
    // last token, so the NORMAL pieces add up to the FINISH text.
    r.state = EDGEVL_STATE_NORMAL;
    r.text = res.unstreamed_tail.c_str();
    r.text_len = res.unstreamed_tail.size();
    r.token_id = res.tokens.back();
    cb(&r, user);
    r = edgevl_result{};
  }
  r.perf = &perf;
  r.token_id = -1;
  r.state = EDGEVL_STATE_FINISH;
  r.text = res.text.c_str();
  r.text_len = res.text.size();
  r.finish_reason = finish_reason_name(res.finish);
  if (spec.mode == EDGEVL_MODE_LOGITS) {
    r.logits = s->session->last_logits().data();
    r.n_logits = int32_t(s->session->last_logits().size());
  } else if (spec.mode == EDGEVL_MODE_HIDDEN_STATE) {
    r.hidden = res.hidden.data();
    r.n_hidden = int32_t(res.hidden.size());
  }
  cb(&r, user);
  return st;
}

}  // namespace

extern "C" {

const char* edgevl_last_error(void) { return edgevl_capi::g_last_error.c_str(); }

const char* edgevl_status_name(edgevl_status s) {
  switch (s) {
    case EDGEVL_OK: return "ok";
    case EDGEVL_ERR_INVALID_ARGUMENT: return "invalid_argument";
    case EDGEVL_ERR_IO: return "io_error";
    case EDGEVL_ERR_FORMAT: return "format_error";
    case EDGEVL_ERR_UNSUPPORTED: return "unsupported";
    case EDGEVL_ERR_CONTEXT_OVERFLOW: return "context_overflow";
    case EDGEVL_ERR_ABORTED: return "aborted";
    case EDGEVL_ERR_BUSY: return "busy";
    case EDGEVL_ERR_INTERNAL: return "internal_error";
  }
  return "unknown";
}

const char* edgevl_version(void) { return "0.1.0"; }

edgevl_model_params edgevl_model_default_params(void) {
  edgevl_model_params p{};
  p.struct_size = sizeof p;
  return p;
}

edgevl_status edgevl_model_load(const edgevl_model_params* params, edgevl_model** out_model) {
  return guarded([&] {
    if (!out_model) invalid("out_model is NULL");
    *out_model = nullptr;
    check_struct(params, "model params");
    if (!params->path || !*params->path) invalid("model params: path is empty");
    if (params->n_threads < 0 || params->n_threads > 1024) invalid("model params: n_threads out of range");
    ModelLoadParams lp;
    lp.path = params->path;
    if (params->mmproj_path) lp.mmproj_path = params->mmproj_path;
    auto m = std::make_unique<edgevl_model>();
    m->model = Model::load(lp);
    *out_model = m.release();
  });
}

void edgevl_model_free(edgevl_model* model) { delete model; }

edgevl_model_info edgevl_model_info_default(void) {
  edgevl_model_info i{};
  i.struct_size = sizeof i;
  return i;
}

edgevl_status edgevl_model_get_info(const edgevl_model* model, edgevl_model_info* out) {
  return guarded([&] {
    if (!model || !model->model) invalid("model is NULL");
    check_struct(out, "model info");
    const ModelConfig& c = model->model->config();
    out->architecture = c.architecture.c_str();
    out->hidden_size = c.text.hidden_size;
    out->vocab_size = model->model->decoder().vocab_size();
    out->num_layers = c.text.num_layers;
    out->max_position_embeddings = c.text.max_position_embeddings;
    out->load_ms = model->model->load_ms();
  });
}

edgevl_sampling_params edgevl_sampling_default_params(void) {
  edgevl_sampling_params s{};
  s.temperature = 0.0f;
  s.top_k = 0;
  s.top_p = 1.0f;
  s.repeat_penalty = 1.0f;
  s.penalty_last_n = 64;
  return s;
}

edgevl_session_params edgevl_session_default_params(void) {
  edgevl_session_params p{};
  p.struct_size = sizeof p;
  p.max_context = 4096;
  p.n_keep = -1;
  p.overflow = EDGEVL_OVERFLOW_ERROR;
  p.sampling = edgevl_sampling_default_params();
  p.max_new_tokens = 512;
  p.image_max_input_pixels = ImageLimits{}.max_pixels;
  return p;
}

edgevl_status edgevl_session_create(const edgevl_model* model, const edgevl_session_params* params, edgevl_session** out_session) {
  return guarded([&] {
    if (!out_session) invalid("out_session is NULL");
    *out_session = nullptr;
    if (!model || !model->model) invalid("model is NULL");
    const edgevl_session_params p = session_params_of(params);
    const SessionParams sp = convert_session_params(p);
    auto s = std::make_unique<edgevl_session>();
    s->model = model->model;
    s->params = p;
    s->params.system_prompt = nullptr;  // not kept: the caller's string
    s->session = std::make_unique<Session>(model->model, sp);
    if (p.cpu_mask) s->session->run_on_pool([mask = p.cpu_mask] { pin_threads(mask); });
    s->kv_used = s->session->kv_size();
    s->kv_capacity = s->session->max_context();
    *out_session = s.release();
  });
}

void edgevl_session_free(edgevl_session* session) {
  if (!session) return;
  if (session->session) edgevl_abort(session);
  {
    std::lock_guard<std::mutex> lk(session->worker_mu);
    if (session->worker.joinable()) session->worker.join();
  }
  delete session;
}

edgevl_part edgevl_part_text(const char* text) {
  edgevl_part p{};
  p.type = EDGEVL_PART_TEXT;
  p.text = text;
  return p;
}
edgevl_part edgevl_part_literal_text(const char* text) {
  edgevl_part p = edgevl_part_text(text);
  p.type = EDGEVL_PART_LITERAL_TEXT;
  return p;
}
edgevl_part edgevl_part_tagged_text(const char* text) {
  edgevl_part p = edgevl_part_text(text);
  p.type = EDGEVL_PART_TAGGED_TEXT;
  return p;
}
edgevl_part edgevl_part_image_file(const char* path) {
  edgevl_part p{};
  p.type = EDGEVL_PART_IMAGE_FILE;
  p.path = path;
  return p;
}
edgevl_part edgevl_part_image_bytes(const uint8_t* data, size_t size) {
  edgevl_part p{};
  p.type = EDGEVL_PART_IMAGE_BYTES;
  p.data = data;
  p.size = size;
  return p;
}
edgevl_part edgevl_part_image_rgb(const uint8_t* rgb, int32_t width, int32_t height) {
  edgevl_part p{};
  p.type = EDGEVL_PART_IMAGE_RGB;
  p.data = rgb;
  p.width = width;
  p.height = height;
  p.size = size_t(width > 0 ? width : 0) * size_t(height > 0 ? height : 0) * 3;
  return p;
}
edgevl_part edgevl_part_tokens(const int32_t* tokens, size_t n_tokens) {
  edgevl_part p{};
  p.type = EDGEVL_PART_TOKENS;
  p.tokens = tokens;
  p.n_tokens = n_tokens;
  return p;
}
edgevl_part edgevl_part_embeddings(const float* embeddings, size_t n_rows, const int32_t* positions) {
  edgevl_part p{};
  p.type = EDGEVL_PART_EMBEDDINGS;
  p.embeddings = embeddings;
  p.n_embeddings = n_rows;
  p.positions = positions;
  return p;
}

edgevl_run_params edgevl_run_default_params(void) {
  edgevl_run_params p{};
  p.struct_size = sizeof p;
  p.mode = EDGEVL_MODE_GENERATE;
  p.keep_history = 1;
  p.max_new_tokens = -1;
  p.ignore_eos = -1;
  return p;
}

edgevl_status edgevl_run(edgevl_session* session, const edgevl_message* message, const edgevl_run_params* params,
                         edgevl_callback callback, void* user_data) {
  std::unique_ptr<Claim> claim;
  RunSpec spec;
  const edgevl_status st = guarded([&] {
    checked(session);
    claim = std::make_unique<Claim>(session, true);
    join_worker(session);  // a finished async run that nobody waited for
    spec = make_run(session, message, params, claim->token());
  });
  if (st != EDGEVL_OK) {
    report_error(callback, user_data, st, error_perf(session, claim != nullptr));
    return st;
  }
  return execute(session, spec, callback, user_data);
}

edgevl_status edgevl_run_async(edgevl_session* session, const edgevl_message* message, const edgevl_run_params* params,
                               edgevl_callback callback, void* user_data) {
  return guarded([&] {
    checked(session);
    Claim claim(session, true);
    join_worker(session);
    auto spec = std::make_shared<RunSpec>(make_run(session, message, params, claim.token()));
    std::lock_guard<std::mutex> lk(session->worker_mu);
    session->async_status = EDGEVL_OK;
    session->async_error.clear();
    // If the thread cannot be created this throws and `claim` ends the call: the
    // session is not left busy.
    session->worker = std::thread([session, spec, callback, user_data] {
      t_worker_of = session;
      session->async_status = execute(session, *spec, callback, user_data);
      if (session->async_status != EDGEVL_OK) session->async_error = edgevl_last_error();
      end_call(session);
    });
    claim.hand_over();
  });
}

edgevl_status edgevl_wait(edgevl_session* session) {
  edgevl_status st = guarded([&] { join_worker(checked(session)); });
  if (st != EDGEVL_OK) return st;
  // The worker has ended: its status and message are no longer written.
  st = session->async_status;
  if (st != EDGEVL_OK) set_last_error(session->async_error);
  return st;
}

int edgevl_is_running(const edgevl_session* session) {
  if (!session) return 0;
  std::lock_guard<std::mutex> lk(session->mu);
  return session->busy ? 1 : 0;
}

edgevl_status edgevl_abort(edgevl_session* session) {
  return guarded([&] {
    checked(session);
    // Only the run in progress has a token: an abort with nothing running is a no-op
    // and can never cancel a later run.
    std::lock_guard<std::mutex> lk(session->mu);
    if (session->cancel) session->cancel->store(true);
  });
}

edgevl_status edgevl_prepare_image(edgevl_session* session, const edgevl_part* image_part) {
  return guarded([&] {
    Claim claim(checked(session), false);
    if (!image_part) invalid("image part is NULL");
    session->session->prepare_image(convert_image(*image_part, session->session->params().image_limits));
  });
}

edgevl_status edgevl_clear(edgevl_session* session, int keep_system) {
  return guarded([&] {
    Claim claim(checked(session), false);
    session->session->clear(keep_system != 0);
  });
}

edgevl_status edgevl_kv_size(const edgevl_session* session, int64_t* out_used, int64_t* out_capacity) {
  return guarded([&] {
    checked(session);
    std::lock_guard<std::mutex> lk(session->mu);
    if (out_used) *out_used = session->kv_used;
    if (out_capacity) *out_capacity = session->kv_capacity;
  });
}

edgevl_status edgevl_turn_count(const edgevl_session* session, int32_t* out_turns) {
  return guarded([&] {
    checked(session);
    if (!out_turns) invalid("out_turns is NULL");
    std::lock_guard<std::mutex> lk(session->mu);
    *out_turns = session->turns;
  });
}

edgevl_status edgevl_remove_turns(edgevl_session* session, int32_t first, int32_t count) {
  return guarded([&] {
    Claim claim(checked(session), false);
    session->session->remove_turns(first, count);  // checks the range (without int overflow)
    session->session->sync_cache();
  });
}

edgevl_status edgevl_set_chat_template(edgevl_session* session, const char* system_prompt, const char* prompt_prefix,
                                       const char* prompt_postfix) {
  return guarded([&] {
    Claim claim(checked(session), false);
    const auto& sp = session->session->params().system_prompt;
    ChatTemplate t = session->session->model().chat_template();
    if (sp) t.set_system_prompt(*sp);
    const std::string sys = system_prompt ? system_prompt : "", pre = prompt_prefix ? prompt_prefix : "",
                      post = prompt_postfix ? prompt_postfix : "";
    t.set_rkllm(system_prompt ? &sys : nullptr, prompt_prefix ? &pre : nullptr, prompt_postfix ? &post : nullptr);
    session->session->set_template(t);
  });
}

edgevl_status edgevl_session_save(const edgevl_session* session, const char* path) {
  return guarded([&] {
    Claim claim(checked(session), false);
    if (!path || !*path) invalid("path is empty");
    session->session->save(path);
  });
}

edgevl_status edgevl_session_load(edgevl_session* session, const char* path) {
  return guarded([&] {
    Claim claim(checked(session), false);
    if (!path || !*path) invalid("path is empty");
    session->session->load(path);
  });
}

edgevl_status edgevl_get_perf(const edgevl_session* session, edgevl_perf* out_last_run, edgevl_perf* out_total) {
  return guarded([&] {
    checked(session);
    std::lock_guard<std::mutex> lk(session->mu);
    if (out_last_run) *out_last_run = session->last;
    if (out_total) *out_total = session->total;
  });
}

}  // extern "C"

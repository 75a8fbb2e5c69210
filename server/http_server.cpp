#include "http_server.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <random>
#include <thread>

#include "admission.h"
#include "api_error.h"
#include "client_connection.h"
#include "edgevl.h"
#include "generation.h"
#include "job.h"
#include "metrics.h"
#include "openai_response.h"
#include "openai_schema.h"
#include "origin_guard.h"
#include "scheduler.h"
#include "session_pool.h"
#include "web_assets.h"

namespace edgevl_server {

namespace {

using nlohmann::json;

std::string new_completion_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string id = "chatcmpl-";
  for (int i = 0; i < 24; ++i) id += digits[rng() % 62];
  return id;
}

std::string basename_of(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

void send_json(httplib::Response& res, int status, const json& j) {
  res.status = status;
  res.set_content(dump_json(j), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
  if (e.status == 429 || e.status == 503) res.set_header("Retry-After", "1");
  send_json(res, e.status, e.to_json());
}

// Compares without an early exit, so the time taken does not reveal how much of a
// guessed key was right.
bool same_secret(const std::string& given, const std::string& expected) {
  unsigned char diff = given.size() != expected.size();
  for (size_t i = 0; i < expected.size(); ++i) diff |= (unsigned char)((i < given.size() ? given[i] : 0) ^ expected[i]);
  return diff == 0;
}

// The API and the metrics need the key; the web page, its files and /health do not.
bool needs_key(const std::string& path) { return path.rfind("/v1/", 0) == 0 || path == "/metrics"; }

// The connection a request came on, to notice a client that hangs up while it waits.
struct ClientLink {
  int fd;
  mutable std::chrono::steady_clock::time_point last_check = std::chrono::steady_clock::now();
  explicit ClientLink(const httplib::Request& req) : fd(find_connection_fd(req.local_addr, req.local_port, req.remote_addr, req.remote_port)) {}
  bool gone() const { return peer_hung_up(fd); }
};

// Answers without reading the request's body. httplib keeps a connection open whatever
// the response says, and would read the unread body as the next request; so the logger
// (which runs once the answer is written) stops reading a connection whose answer says
// "Connection: close", and httplib then closes it.
void refuse_unread(httplib::Response& res, const ApiError& e) {
  res.set_header("Connection", "close");
  send_error(res, e);
}

// Bodies up to this size are read and dropped when a request is refused for lack of a
// slot; larger ones are left unread and their connection closed.
constexpr size_t kDrainLimit = size_t(1) << 20;

// How often a waiting handler checks that its client is still there.
constexpr std::chrono::milliseconds kLivenessPoll{50};

class Server {
 public:
  Server(const ServerOptions& opt, edgevl_model* model)
      : opt_(opt),
        model_(model),
        name_(opt.model_name.empty() ? basename_of(opt.model_path) : opt.model_name),
        created_(std::time(nullptr)),
        admission_(opt.parallel + opt.max_queue),
        pool_(model, session_params(opt), size_t(std::max(opt.max_sessions, opt.parallel))),
        scheduler_(opt.parallel, opt.max_queue) {
    limits_.max_images = size_t(opt.max_images);
    limits_.max_tokens_cap = opt.max_context;
    limits_.image.max_bytes = size_t(opt.max_body_mb) << 20;
    if (!opt.allow_local_images.empty()) {
      char buf[PATH_MAX];
      if (!::realpath(opt.allow_local_images.c_str(), buf)) throw std::runtime_error("--allow-local-images: no such directory: " + opt.allow_local_images);
      limits_.image.local_dir = buf;
      limits_.image.local_dir_given = std::filesystem::absolute(opt.allow_local_images).lexically_normal().string();
      while (limits_.image.local_dir_given.size() > 1 && limits_.image.local_dir_given.back() == '/') limits_.image.local_dir_given.pop_back();
    }
    gen_.literal_text = !opt.parse_special;
    gen_.default_max_tokens = opt.max_tokens;
    gen_.sampling = edgevl_sampling_default_params();
    gen_.stopping = &stopping_;
    routes();
  }

  httplib::Server& http() { return http_; }

  // From the signal thread: refuse new work, end running generations, stop listening.
  void stop() {
    stopping_.store(true);
    pool_.abort_all();
    http_.stop();
  }

 private:
  static edgevl_session_params session_params(const ServerOptions& opt) {
    edgevl_session_params p = edgevl_session_default_params();
    p.max_context = opt.max_context;
    p.kv_type = opt.kv_f16 ? EDGEVL_KV_F16 : EDGEVL_KV_F32;
    p.overflow = EDGEVL_OVERFLOW_ERROR;  // a prompt that does not fit is the client's 400, not silent truncation
    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    p.n_threads = opt.threads > 0 ? opt.threads : std::max(1, cores / std::max(1, opt.parallel));
    p.max_new_tokens = opt.max_tokens;
    p.image_fixed_size = opt.fixed_size;
    p.image_max_tokens = opt.image_max_tokens > 0 ? opt.image_max_tokens : std::min(EDGEVL_DEFAULT_IMAGE_MAX_TOKENS, opt.max_context / 2);
    p.image_max_input_pixels = int64_t(opt.image_max_mpx) * 1000000;
    return p;
  }

  void routes() {
    // httplib serves each connection on one thread for as long as it is open, idle
    // keep-alive time included. So: threads for the generations and the queue, plus
    // plenty of spare ones, so that /health, /metrics and prompt 429 answers are served
    // while every generation slot is taken and clients hold idle connections.
    const size_t n_http = size_t(opt_.parallel + opt_.max_queue + 32);
    http_.new_task_queue = [n_http] { return new httplib::ThreadPool(n_http); };
    http_.set_payload_max_length(size_t(opt_.max_body_mb) << 20);
    http_.set_read_timeout(30);
    http_.set_write_timeout(30);
    http_.set_keep_alive_timeout(3);
    http_.set_tcp_nodelay(true);  // streamed tokens go out at once

    origin_.loopback_only = is_loopback_host(opt_.host);
    http_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      const std::string why = check_origin(origin_, req.get_header_value("Host"), req.get_header_value("Origin"));
      if (!why.empty()) {
        refuse_unread(res, ApiError(403, "forbidden_origin", why));
        return httplib::Server::HandlerResponse::Handled;
      }
      if (!opt_.api_key.empty() && needs_key(req.path) &&
          !same_secret(req.get_header_value("Authorization"), "Bearer " + opt_.api_key)) {
        res.set_header("WWW-Authenticate", "Bearer");
        refuse_unread(res, ApiError(401, "invalid_api_key", "this server needs an API key: send \"Authorization: Bearer KEY\"", "",
                                          "authentication_error"));
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });

    http_.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200, {{"status", stopping_ ? "stopping" : "ok"}, {"model", name_}});
    });
    http_.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      json m = {{"id", name_}, {"object", "model"}, {"created", created_}, {"owned_by", "edgevl"}};
      send_json(res, 200, {{"object", "list"}, {"data", json::array({m})}});
    });
    http_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) { send_json(res, 200, metrics_json()); });
    // The body is read here rather than by httplib: httplib parses a body sent as
    // application/x-www-form-urlencoded (curl -d's default) and refuses it over 8 KiB.
    http_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
      // Admission first: a request with no slot is refused before its body is read.
      Admission::Ticket ticket = admission_.try_enter();
      if (!ticket) {
        metrics_.record_error("queue_full");
        // A small body is read and dropped (nothing kept), so that the client gets a clean
        // 429 on a connection it may reuse; a larger one is not read at all.
        size_t seen = 0;
        const bool drained = reader([&](const char*, size_t n) { return (seen += n) <= kDrainLimit; });
        if (!drained) return refuse_unread(res, busy_error());
        return send_error(res, busy_error());
      }
      const size_t limit = size_t(opt_.max_body_mb) << 20;
      const std::string declared = req.get_header_value("Content-Length");
      // An unread body must not be taken for the next request on this connection.
      if (!declared.empty() && std::strtoull(declared.c_str(), nullptr, 10) > limit)
        return refuse_unread(res, ApiError(413, "request_too_large", "the request body is over the --max-body-mb limit"));
      std::string body;
      bool too_big = false;
      const bool read = reader([&](const char* data, size_t n) {
        if (body.size() + n > limit) {
          too_big = true;
          return false;
        }
        body.append(data, n);
        return true;
      });
      if (too_big || !read)  // the rest of the body is left unread
        return refuse_unread(res, too_big ? ApiError(413, "request_too_large", "the request body is over the --max-body-mb limit")
                                               : ApiError(400, "incomplete_body", "the request body could not be read"));
      chat(body, std::move(ticket), ClientLink(req), res);
    });
    http_.Get(".*", [](const httplib::Request& req, httplib::Response& res) {
      const WebAsset* a = find_web_asset(req.path);
      if (!a) {
        send_error(res, ApiError(404, "not_found", "no such page: " + req.path));
        return;
      }
      res.set_header("Cache-Control", "no-cache");
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_content(reinterpret_cast<const char*>(a->data), a->size, a->mime);
    });

    // Errors raised by httplib itself (413 body too large, 404 for unknown routes, 400
    // for malformed HTTP) get the same JSON shape as ours.
    http_.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 413)
        send_error(res, ApiError(413, "request_too_large", "the request body is over the --max-body-mb limit"));
      else if (res.status == 404)
        send_error(res, ApiError(404, "not_found", "no route for " + req.method + " " + req.path));
      else
        send_error(res, ApiError(res.status, "http_error", "HTTP error " + std::to_string(res.status)));
    });
    http_.set_exception_handler([this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      metrics_.record_error("internal_error");
      send_error(res, ApiError(500, "internal_error", what, "", "server_error"));
    });
    http_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      if (res.get_header_value("Connection") == "close") stop_reading(ClientLink(req).fd);  // see refuse_unread
      if (req.path.rfind("/v1/", 0) == 0) metrics_.count_response(res.status);
    });
  }

  json metrics_json() {
    const PoolStats ps = pool_.stats();
    json live = {
        {"queue", {{"depth", scheduler_.queued()}, {"running", scheduler_.running()}, {"parallel", scheduler_.workers()}, {"max_queue", scheduler_.max_queue()}}},
        {"sessions", {{"live", ps.live}, {"busy", ps.busy}, {"max", ps.max}, {"created", ps.created}, {"evicted", ps.evicted}, {"hits", ps.hits}, {"misses", ps.misses}}},
        {"model", name_},
    };
    return metrics_.to_json(live);
  }

  ApiError busy_error() const {
    return ApiError(429, "queue_full",
                    "the server is busy: " + std::to_string(scheduler_.running()) + " running and " + std::to_string(scheduler_.queued()) +
                        " queued requests; retry later",
                    "", "rate_limit_error");
  }

  // Waits for the job's next event, checking at least every kLivenessPoll that the client
  // is still there; false (and the job cancelled) when it left. The check runs on a clock,
  // not only when no event came: during decoding events come faster than the poll period,
  // and a client that left must still be noticed.
  bool wait_event(const std::shared_ptr<Job>& job, const ClientLink& client, JobEvent& ev) {
    using Clock = std::chrono::steady_clock;
    for (;;) {
      const bool got = job->next(ev, kLivenessPoll);
      const Clock::time_point now = Clock::now();
      if (!got || now - client.last_check >= kLivenessPoll) {
        client.last_check = now;
        if (client.gone()) {
          job->cancel();
          metrics_.record_error("client_disconnected");
          return false;
        }
      }
      if (got) return true;
    }
  }

  void chat(const std::string& body, Admission::Ticket ticket, const ClientLink& client, httplib::Response& res) {
    std::shared_ptr<Job> job;
    try {
      job = std::make_shared<Job>(parse_chat_request(body, limits_), new_completion_id());
    } catch (const ApiError& e) {
      metrics_.record_error(e.code);
      return send_error(res, e);
    }
    if (stopping_) return send_error(res, ApiError(503, "shutting_down", "the server is shutting down", "", "server_error"));
    // The ticket travels with the task: the slot is free again when the generation ends.
    const bool accepted = scheduler_.try_submit([this, job, ticket] {
      try {
        run_job(*job, pool_, gen_, metrics_);
      } catch (const std::exception& e) {
        // run_job reports its own failures; this is only for the unforeseen (bad_alloc).
        job->error = ApiError(500, "internal_error", e.what(), "", "server_error");
        job->send({JobEvent::Failed, ""});
      }
    });
    if (!accepted) {
      metrics_.record_error("queue_full");
      return send_error(res, busy_error());
    }
    if (job->request.stream) return stream(job, client, res);

    JobEvent ev;
    do {
      if (!wait_event(job, client, ev)) return;  // nobody to answer
    } while (ev.kind == JobEvent::Delta);
    if (ev.kind == JobEvent::Failed) return send_error(res, *job->error);
    send_json(res, 200, completion_json(*job, name_, std::time(nullptr)));
  }

  // Streaming waits for the first event before answering, so that failures found before
  // any text (context overflow, an image the runtime cannot decode, queue shutdown) get
  // a real HTTP status instead of an error inside a 200 stream.
  void stream(const std::shared_ptr<Job>& job, const ClientLink& client, httplib::Response& res) {
    JobEvent first;
    if (!wait_event(job, client, first)) return;
    if (first.kind == JobEvent::Failed) return send_error(res, *job->error);

    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    const int64_t created = std::time(nullptr);
    auto pending = std::make_shared<JobEvent>(std::move(first));
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, job, created, pending](size_t, httplib::DataSink& sink) {
          auto write = [&](const std::string& s) { return sink.write(s.data(), s.size()); };
          bool ok = write(sse_event(chunk_json(*job, name_, created, {{"role", "assistant"}, {"content", ""}}, "")));
          JobEvent ev = std::move(*pending);
          while (ok) {
            if (ev.kind == JobEvent::Delta) {
              ok = write(sse_event(chunk_json(*job, name_, created, {{"content", ev.text}}, "")));
            } else {
              if (ev.kind == JobEvent::Done) {
                ok = write(sse_event(chunk_json(*job, name_, created, json::object(), job->finish_reason)));
                if (ok && job->request.include_usage) ok = write(sse_event(usage_chunk_json(*job, name_, created)));
              } else {
                // Failed after the stream began: OpenAI clients raise on an error event.
                ok = write(sse_event(job->error->to_json()));
              }
              if (ok) ok = write(sse_done());
              if (ok) sink.done();
              break;
            }
            // While waiting, a comment line now and then finds a client that went away.
            while (ok && !job->next(ev, std::chrono::milliseconds(1000))) ok = write(": keep-alive\n\n");
          }
          if (!ok) {
            job->cancel();  // the client is gone: stop generating for nobody
            metrics_.record_error("client_disconnected");
          }
          return ok;
        },
        [job](bool success) {
          if (!success) job->cancel();
        });
  }

  const ServerOptions opt_;
  edgevl_model* model_;
  const std::string name_;
  const int64_t created_;
  RequestLimits limits_;
  OriginPolicy origin_;
  GenerationConfig gen_;
  std::atomic<bool> stopping_{false};
  Metrics metrics_;
  Admission admission_;  // before the scheduler: its tasks hold tickets
  SessionPool pool_;
  Scheduler scheduler_;
  httplib::Server http_;
};

int g_stop_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int sig) {
  const char c = static_cast<char>(sig);
  ssize_t w = ::write(g_stop_pipe[1], &c, 1);
  (void)w;
}

}  // namespace

std::string check_options(const ServerOptions& opt) {
  if (!is_loopback_host(opt.host) && opt.api_key.empty() && !opt.no_api_key)
    return "--host " + opt.host + " lets other machines in: give --api-key KEY (or EDGEVL_API_KEY), or --no-api-key to serve without one";
  if (opt.image_max_tokens > opt.max_context)
    return "--image-max-tokens " + std::to_string(opt.image_max_tokens) + " is over --max-context " + std::to_string(opt.max_context);
  return "";
}

int run_server(const ServerOptions& opt) {
  if (const std::string why = check_options(opt); !why.empty()) {
    std::fprintf(stderr, "edgevl serve: %s\n", why.c_str());
    return 2;
  }
  // SIGINT/SIGTERM only write a byte to a pipe (async-signal-safe); a thread reads it and
  // stops the server, so stopping can lock and join like ordinary code. A handler (not a
  // blocked mask + sigwait) because libraries may start threads before main (OpenBLAS
  // does), and a signal delivered to one of those must still stop us cleanly.
  if (::pipe2(g_stop_pipe, O_CLOEXEC) != 0) {
    std::fprintf(stderr, "edgevl serve: cannot create the signal pipe\n");
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the server

  edgevl_model_params mp = edgevl_model_default_params();
  mp.path = opt.model_path.c_str();
  mp.mmproj_path = opt.mmproj_path.empty() ? nullptr : opt.mmproj_path.c_str();
  mp.n_threads = opt.threads;
  edgevl_model* model = nullptr;
  if (edgevl_model_load(&mp, &model) != EDGEVL_OK) {
    std::fprintf(stderr, "edgevl serve: cannot load model '%s': %s\n", opt.model_path.c_str(), edgevl_last_error());
    return 1;
  }
  int rc = 0;
  {
    std::unique_ptr<Server> server;
    try {
      server = std::make_unique<Server>(opt, model);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "edgevl serve: %s\n", e.what());
      edgevl_model_free(model);
      return 1;
    }
    int port = opt.port;
    bool bound = false;
    if (port == 0) {
      port = server->http().bind_to_any_port(opt.host);
      bound = port > 0;
    } else {
      bound = server->http().bind_to_port(opt.host, port);
    }
    if (!bound) {
      std::fprintf(stderr, "edgevl serve: cannot listen on %s:%d\n", opt.host.c_str(), opt.port);
      edgevl_model_free(model);
      return 1;
    }
    std::atomic<bool> done{false};
    std::thread signals([&] {
      char sig = 0;
      while (::read(g_stop_pipe[0], &sig, 1) < 0 && errno == EINTR) {
      }
      if (!done.load() && sig != 0) {
        std::fprintf(stderr, "edgevl serve: signal %d, stopping\n", sig);
        server->stop();
      }
    });
    std::printf("edgevl serve: listening on http://%s:%d (model %s)\n", opt.host.c_str(), port, opt.model_path.c_str());
    std::fflush(stdout);
    if (!server->http().listen_after_bind()) rc = 1;
    done.store(true);
    const char wake = 0;  // wakes the signal thread if no signal came
    ssize_t w = ::write(g_stop_pipe[1], &wake, 1);
    (void)w;
    signals.join();
  }
  edgevl_model_free(model);
  return rc;
}

}  // namespace edgevl_server

// Shared pieces of the C API implementation: the handle structs, error capture and
// conversion between C structs and the C++ runtime.
#pragma once
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/error.h"
#include "edgevl.h"
#include "runtime/model.h"
#include "runtime/session.h"

struct edgevl_model {
  std::shared_ptr<const edgevl::Model> model;
};

// A session handle. edgevl::Session is not thread-safe, so every call that uses it first
// claims the handle (`busy`, under `mu`); a second call meanwhile gets EDGEVL_ERR_BUSY.
// The calls the header allows during a run (kv_size, turn_count, get_perf, abort,
// is_running) only read the fields under `mu`, which the claiming call refreshes when it
// ends: they never touch `session` itself.
struct edgevl_session {
  std::shared_ptr<const edgevl::Model> model;
  std::unique_ptr<edgevl::Session> session;
  edgevl_session_params params{};

  mutable std::mutex mu;  // guards the fields below
  bool busy = false;      // a call is using `session`
  // The abort token of the run in progress (null between runs): edgevl_abort sets it,
  // so an abort can never reach a later run.
  std::shared_ptr<std::atomic<bool>> cancel;
  int64_t kv_used = 0, kv_capacity = 0;  // as of the end of the last call that used `session`
  int32_t turns = 0;
  edgevl_perf last{}, total{};

  std::mutex worker_mu;    // joins of `worker` (edgevl_wait, the next run, free)
  std::thread worker;      // the async run, if any
  edgevl_status async_status = EDGEVL_OK;  // written by the worker before it ends
  std::string async_error;
};

namespace edgevl_capi {

void set_last_error(const std::string& msg);
edgevl_status status_of(edgevl::ErrorCode c);
// Runs fn, turning exceptions into a status and (on failure) the thread's last error.
// A successful call leaves the last error as it was.
template <typename F>
edgevl_status guarded(F fn) {
  try {
    fn();
    return EDGEVL_OK;
  } catch (const edgevl::Error& e) {
    set_last_error(e.what());
    return status_of(e.code());
  } catch (const std::bad_alloc&) {
    set_last_error("out of memory");
    return EDGEVL_ERR_INTERNAL;
  } catch (const std::exception& e) {
    set_last_error(e.what());
    return EDGEVL_ERR_INTERNAL;
  }
}

[[noreturn]] void invalid(const std::string& msg);

// The integer a caller stored in a C enum field. Loading an out-of-range value as the
// C++ enum type is undefined behaviour, so hostile values are read as bytes.
template <typename E>
int enum_value(const E& e) {
  static_assert(sizeof(E) == sizeof(int), "C enums are int-sized here");
  int v;
  std::memcpy(&v, &e, sizeof v);
  return v;
}
// Decodes images and copies every buffer: the result owns its data. Throws
// kInvalidArgument for a user or tool message with nothing in it.
edgevl::Message convert_message(const edgevl_message* msg, const edgevl::ImageLimits& limits, int hidden_size);
std::shared_ptr<const edgevl::ImageU8> convert_image(const edgevl_part& p, const edgevl::ImageLimits& limits);
edgevl::SamplingParams convert_sampling(const edgevl_sampling_params& s);
// Checks every field of session params and converts them.
edgevl::SessionParams convert_session_params(const edgevl_session_params& p);
edgevl_perf convert_perf(const edgevl::TurnStats& s, double model_load_ms);

}  // namespace edgevl_capi

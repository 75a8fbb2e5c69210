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

struct edgevl_session {
  std::shared_ptr<const edgevl::Model> model;
  std::unique_ptr<edgevl::Session> session;
  std::atomic<bool> running{false};
  std::thread worker;  // the async run, if any
  edgevl_status async_status = EDGEVL_OK;
  edgevl_session_params params{};
  edgevl_perf last{}, total{};
  std::mutex perf_mu;
};

namespace edgevl_capi {

void set_last_error(const std::string& msg);
edgevl_status status_of(edgevl::ErrorCode c);
// Runs fn, turning exceptions into a status and the thread's last error.
template <typename F>
edgevl_status guarded(F fn) {
  try {
    fn();
    set_last_error("");
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
// Decodes images and copies every buffer: the result owns its data.
edgevl::Message convert_message(const edgevl_message* msg, const edgevl::ImageLimits& limits, int hidden_size);
std::shared_ptr<const edgevl::ImageU8> convert_image(const edgevl_part& p, const edgevl::ImageLimits& limits);
edgevl::SamplingParams convert_sampling(const edgevl_sampling_params& s);
edgevl_perf convert_perf(const edgevl::TurnStats& s, double model_load_ms);

}  // namespace edgevl_capi

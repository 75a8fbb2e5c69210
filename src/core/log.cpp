#include "core/log.h"

#include <cstdio>
#include <mutex>

namespace edgevl {

namespace {
std::mutex& sink_mutex() {
  static std::mutex mu;
  return mu;
}
WarningSink& sink() {
  static WarningSink s;
  return s;
}
}  // namespace

void warn(const std::string& message) {
  std::lock_guard<std::mutex> lk(sink_mutex());
  if (sink()) {
    sink()(message);
  } else {
    std::fprintf(stderr, "edgevl: warning: %s\n", message.c_str());
  }
}

WarningSink set_warning_sink(WarningSink s) {
  std::lock_guard<std::mutex> lk(sink_mutex());
  WarningSink old = std::move(sink());
  sink() = std::move(s);
  return old;
}

}  // namespace edgevl

// Wall-clock timing and process memory figures for perf stats.
#pragma once
#include <chrono>
#include <cstdint>

namespace edgevl {

inline double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

// Peak resident set size of this process (VmHWM), in bytes; 0 if unknown.
int64_t peak_rss_bytes();
// Current resident set size (VmRSS), in bytes; 0 if unknown.
int64_t current_rss_bytes();

}  // namespace edgevl

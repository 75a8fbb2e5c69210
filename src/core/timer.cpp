#include "core/timer.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace edgevl {

static int64_t read_status_kb(const char* key) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  int64_t kb = 0;
  size_t klen = std::strlen(key);
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, key, klen) == 0) {
      kb = std::atoll(line + klen);
      break;
    }
  }
  std::fclose(f);
  return kb;
}

int64_t peak_rss_bytes() { return read_status_kb("VmHWM:") * 1024; }
int64_t current_rss_bytes() { return read_status_kb("VmRSS:") * 1024; }

}  // namespace edgevl

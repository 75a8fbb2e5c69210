#include "default_model.h"

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

namespace edgevl_cli {

namespace {

const char* kName = "shapes-qwen2-vl";

bool has_config(const std::string& dir) {
  FILE* f = std::fopen((dir + "/config.json").c_str(), "rb");
  if (!f) return false;
  std::fclose(f);
  return true;
}

std::string exe_dir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string p(buf, size_t(n));
  size_t slash = p.find_last_of('/');
  return slash == std::string::npos ? "" : p.substr(0, slash);
}

}  // namespace

std::string default_model_path() {
  if (const char* env = std::getenv("EDGEVL_DEFAULT_MODEL"); env && *env) return env;
  const std::string exe = exe_dir();
  std::string candidates[] = {
      exe.empty() ? "" : exe + "/../../models/" + kName,
      exe.empty() ? "" : exe + "/../share/edgevl/models/" + kName,
#ifdef EDGEVL_SOURCE_MODELS_DIR
      std::string(EDGEVL_SOURCE_MODELS_DIR) + "/" + kName,
#endif
  };
  for (const auto& c : candidates)
    if (!c.empty() && has_config(c)) return c;
  return "";
}

}  // namespace edgevl_cli

// The fixture models for tests, each loaded once per test binary and shared.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "runtime/model.h"
#include "test_util.h"

namespace edgevl_test {

// ../shared/fixtures/<name> (e.g. "tiny-qwen2-vl"), loaded on first use.
inline std::shared_ptr<const edgevl::Model> fixture_model(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const edgevl::Model>> loaded;
  std::lock_guard<std::mutex> lock(mu);
  auto& m = loaded[name];
  if (!m) {
    edgevl::ModelLoadParams p;
    p.path = fixture(name);
    m = edgevl::Model::load(p);
  }
  return m;
}

}  // namespace edgevl_test

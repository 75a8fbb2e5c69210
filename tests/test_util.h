// Shared helpers for tests: where the golden fixtures are, and comparisons.
#pragma once
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

namespace edgevl_test {

// ../shared/fixtures, or $EDGEVL_FIXTURES. Golden tests must FAIL (not skip) when it is absent.
inline std::string fixtures_dir() {
  const char* env = std::getenv("EDGEVL_FIXTURES");
  return env && *env ? env : EDGEVL_FIXTURES_DIR;
}

inline bool path_exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

inline std::string fixture(const std::string& rel) { return fixtures_dir() + "/" + rel; }

#define REQUIRE_FIXTURES()                                                                      \
  ASSERT_TRUE(::edgevl_test::path_exists(::edgevl_test::fixtures_dir() + "/README.md"))        \
      << "golden fixtures not found at '" << ::edgevl_test::fixtures_dir()                     \
      << "' (expected ../shared/fixtures beside the repo, or set EDGEVL_FIXTURES)"

// NaN-aware: a NaN anywhere makes these +inf, so `EXPECT_LE(max_abs_diff(..), tol)`
// fails on NaN output (std::max would silently drop a NaN, and NaN <= tol is false only
// by luck of the operand order).
inline float max_abs(const std::vector<float>& a) {
  float m = 0;
  for (float x : a) {
    if (std::isnan(x)) return INFINITY;
    m = std::max(m, std::fabs(x));
  }
  return m;
}

inline float max_abs_diff(const float* a, const float* b, size_t n) {
  float m = 0;
  for (size_t i = 0; i < n; ++i) {
    const float d = std::fabs(a[i] - b[i]);
    if (std::isnan(d)) return INFINITY;  // a NaN on either side (or inf - inf)
    m = std::max(m, d);
  }
  return m;
}

inline float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  return max_abs_diff(a.data(), b.data(), std::min(a.size(), b.size()));
}

inline std::string temp_dir() {
  static std::string d = [] {
    char tmpl[] = "/tmp/edgevl_test_XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    return std::string(p ? p : "/tmp");
  }();
  return d;
}

}  // namespace edgevl_test

// Helpers shared by the subcommands: error reporting, stats formatting, JSON escaping.
#pragma once
#include <cstdio>
#include <exception>
#include <string>

#include "runtime/session.h"

namespace edgevl_cli {

// Runs fn, turning library errors into "edgevl <cmd>: message" on stderr and exit code 1.
template <typename F>
int run_guarded(const char* cmd, F fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "edgevl %s: error: %s\n", cmd, e.what());
    return 1;
  }
}

std::string format_stats(const edgevl::TurnStats& s, int64_t max_context);
std::string stats_json(const edgevl::TurnStats& s);

}  // namespace edgevl_cli

#!/usr/bin/env bash
# Builds with ThreadSanitizer and runs the multi-threaded parts under it: the C API test
# (async runs, abort from another thread, calls during a run), the session and thread
# pool tests and the server's session pool / admission tests. CI runs this after
# scripts/test_asan.sh.
#
# OpenBLAS is not instrumented: its own worker threads would hand results to ours
# through synchronisation TSan cannot see. OPENBLAS_NUM_THREADS=1 keeps its work on the
# calling (instrumented) thread.
set -euo pipefail
cd "$(dirname "$0")/.."
# Only the test files run below are compiled (EDGEVL_TEST_FILES), with line-table debug info.
tests="test_core;test_hardening;test_session;test_session_golden;test_server_session_pool"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DEDGEVL_TSAN=ON -DEDGEVL_TEST_FILES="$tests" >/dev/null
cmake --build build-tsan -j"$(nproc)" --target c_api_test edgevl_tests
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
export OPENBLAS_NUM_THREADS=1
export EDGEVL_FIXTURES="${EDGEVL_FIXTURES:-$(pwd)/../shared/fixtures}"
./build-tsan/bin/c_api_test
./build-tsan/bin/edgevl_tests --gtest_brief=1 --gtest_filter='Session*:ThreadPool*:ServerSessionPool*:ServerAdmission*'

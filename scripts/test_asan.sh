#!/usr/bin/env bash
# Builds with AddressSanitizer + UBSan and runs the C API test and the hostile-input
# unit tests under it, with the float GEMM and decoder golden tests (CI runs this after
# scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# Only the test files run below are compiled (EDGEVL_TEST_FILES), at -O1 (what the
# AddressSanitizer documentation suggests) with line-table debug info (-g1: enough for
# sanitizer stack traces, much faster to build than -g).
tests="test_core;test_formats;test_gguf;test_gguf_model;test_hardening;test_image;test_preprocess;test_sampler;test_session;test_tokenizer;test_tokenizer_units"
# ...and the float GEMM and the decoder goldens (f32 and f16 KV caches), whose packing and
# chunked attention index buffers by hand.
tests+=";test_kernels_fgemm;test_decoder_golden"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DEDGEVL_SANITIZE=ON -DEDGEVL_TEST_FILES="$tests" >/dev/null
cmake --build build-asan -j"$(nproc)" --target c_api_test edgevl_tests
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export EDGEVL_FIXTURES="${EDGEVL_FIXTURES:-$(pwd)/../shared/fixtures}"
./build-asan/bin/c_api_test
./build-asan/bin/edgevl_tests --gtest_brief=1 \
  --gtest_filter='Safetensors*:ModelConfig*:Npy*:MappedFile*:Tokenizer*:*Utf8*:Image*:Decode*:Preprocess*:SmartResize*:Session.*:Gguf*:Sampler*:FGemm*:KvCache*:*DecoderGolden*'

#!/usr/bin/env bash
# Cross-compiles edgevl for aarch64 (cmake/aarch64-linux-gnu.cmake) and runs the kernel and
# format tests under qemu-user. Installs the cross toolchain and arm64 -dev packages
# (Debian 12 multiarch) when missing. Extra args go to the test binary.
#   QEMU_CPU=cortex-a53 scripts/test_arm64.sh   # a core without dotprod (plain NEON paths)
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
need=()
command -v aarch64-linux-gnu-g++ >/dev/null || need+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
for p in libgtest-dev:arm64 libpcre2-dev:arm64 libutf8proc-dev:arm64 nlohmann-json3-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "test_arm64: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# Linked statically: qemu-user 7.2 (Debian 12) hangs creating threads in dynamically linked
# arm64 programs (glibc 2.36), which every ThreadPool test does.
# Only the test files run below are compiled (EDGEVL_TEST_FILES).
tests="test_core;test_hardening;test_kernels;test_kernels_quant;test_kernels_kquant;test_kernels_qgemm;test_kquant_vectors;test_quant_mix"
tests+=";test_gguf;test_gguf_model;test_gguf_golden;test_tokenizer;test_decoder_golden;test_vision_encoder;test_qwen3vl_ops;test_qwen3vl_golden"
cmake -S . -B build-arm64 -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
  -DCMAKE_EXE_LINKER_FLAGS=-static -DCMAKE_USER_MAKE_RULES_OVERRIDE="$PWD/cmake/static-libs.cmake" -DEDGEVL_TEST_FILES="$tests" >/dev/null
cmake --build build-arm64 -j"${JOBS:-$(nproc)}" --target edgevl_tests
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
# Kernels against their scalar references (every table the emulated CPU offers: plain NEON
# and dotprod), GGUF parsing, and the golden model tests that run those kernels end to end.
# (The quantized-agreement and whole-session goldens are left to the native run: under
# emulation they take minutes and add no kernel coverage beyond these.)
filter="${GTEST_FILTER:-Fp16*:ThreadPool*:Matmul*:Dot*:Exp*:Quant*:Attention*:Rope*:AllTypes*:Gguf*:*GgufFixture*:*GgufGolden.F32*:*DecoderGolden*:*VisionGolden*:*WindowGolden*:GeluTanh*:PosEmbedInterp*:Qwen3VLConfig*:Qwen3VLMRope*:Qwen3VLPreprocess*:*Qwen3VLVision.*:Qwen3VLDecoder*:KQuant*:QGemm*}"
qemu-aarch64-static build-arm64/bin/edgevl_tests --gtest_filter="$filter" "$@"
# The same kernel tests on a core without dotprod (Cortex-A53, as in the RK3576): the plain
# NEON and scalar tables must be chosen and correct there.
QEMU_CPU=cortex-a53 qemu-aarch64-static build-arm64/bin/edgevl_tests \
  --gtest_filter="Fp16*:ThreadPool*:Matmul*:Dot*:Exp*:Quant*:KQuant*:QGemm*:Attention*:Rope*:AllTypes*" "$@"

#!/usr/bin/env bash
# Installs everything edgevl needs to build and test, from Debian packages only.
# Used by the README and by .ci/run. Safe to run twice.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build pkg-config
  nlohmann-json3-dev libpcre2-dev libutf8proc-dev libstb-dev libopenblas-dev
  libsimde-dev  # SIMDe: the AVX-512 kernels are also tested under its emulation (tests/test_kernels_qgemm_avx512.cpp)
  libgtest-dev libgmock-dev libbenchmark-dev
  libcpp-httplib-dev libcli11-dev
  tmux
  chromium  # headless browser for the web-page test of `edgevl serve` (tests/server)
)
# Node.js + npm for tests/server (the openai client). Debian 12's nodejs is 18, which
# the pinned packages support; a newer node already on the machine is kept as it is.
command -v node >/dev/null || PKGS+=(nodejs)
command -v npm >/dev/null || PKGS+=(npm)
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "setup: dependencies present"

#!/usr/bin/env bash
# Installs everything edgevl needs to build and test, from Debian packages only.
# Used by the README and by .ci/run. Safe to run twice.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build pkg-config
  nlohmann-json3-dev libpcre2-dev libutf8proc-dev libstb-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcpp-httplib-dev libcli11-dev
  tmux
)
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

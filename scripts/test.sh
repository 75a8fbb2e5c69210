#!/usr/bin/env bash
# Builds edgevl and runs every test (unit + golden against ../shared/fixtures).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
cd build && ctest --output-on-failure -j"$(nproc)" --timeout 600

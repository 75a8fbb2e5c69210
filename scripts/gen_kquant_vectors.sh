#!/usr/bin/env bash
# Regenerates tests/data/kquants from ggml: builds scripts/gen_kquant_vectors.c against the
# ggml of a llama.cpp checkout (outside this repo; its ggml-base library must be built:
# cmake -S LLAMA -B LLAMA/build && cmake --build LLAMA/build --target ggml-base) and runs it.
#   scripts/gen_kquant_vectors.sh /path/to/llama.cpp
set -euo pipefail
LLAMA=${1:?usage: $0 /path/to/llama.cpp}
cd "$(dirname "$0")/.."
out=tests/data/kquants
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
lib=$(dirname "$(find "$LLAMA/build" -name 'libggml-base.so' | head -1)")
cc -O2 -std=c11 -I"$LLAMA/ggml/include" scripts/gen_kquant_vectors.c -L"$lib" -lggml-base -Wl,-rpath,"$lib" -o "$tmp/gen"
"$tmp/gen" "$out"

#!/usr/bin/env bash
# Side-by-side speed of edgevl and llama.cpp on the same GGUF files, same thread count.
#
#   LLAMA_CPP=/path/to/llama.cpp/build/bin scripts/compare_llama_cpp.sh PREFIX [THREADS]
#
# PREFIX.gguf / PREFIX-mmproj.gguf come from `edgevl make-model` or `edgevl convert` (add
# --legacy-clip-names for llama.cpp builds from before mid-2025, whose only Qwen2-VL tool is
# llama-qwen2vl-cli). Runs llama-bench (pp196, tg64) and, when present, llama-qwen2vl-cli or
# llama-mtmd-cli on a 392x392 image (its image-encode time), then `edgevl bench` with the
# same settings. llama.cpp is not part of edgevl: build it yourself.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${1:?usage: LLAMA_CPP=DIR $0 PREFIX [THREADS]}"
threads="${2:-$(nproc)}"
bin="${LLAMA_CPP:?set LLAMA_CPP to llama.cpp\'s build/bin directory}"
image="${IMAGE:-../shared/fixtures/images/demo_sq392.png}"
edgevl=./build/bin/edgevl

echo "## llama.cpp: llama-bench"
"$bin/llama-bench" -m "$prefix.gguf" -p 196 -n 64 -t "$threads" -r 3

vl=""
for c in llama-mtmd-cli llama-qwen2vl-cli; do
  if [ -x "$bin/$c" ]; then vl="$bin/$c"; break; fi
done
if [ -n "$vl" ]; then
  echo "## llama.cpp: $(basename "$vl") image encode (392x392)"
  timer=(); [ -x /usr/bin/time ] && timer=(/usr/bin/time -v)  # peak RSS (Debian package "time")
  "${timer[@]}" "$vl" -m "$prefix.gguf" --mmproj "$prefix-mmproj.gguf" --image "$image" \
    -p "Describe this image." -n 1 --temp 0 -t "$threads" 2>&1 |
    grep -E "image encoded|image slice encoded|prompt eval time|Maximum resident" || true
fi

echo "## edgevl bench"
"$edgevl" bench -m "$prefix.gguf" --mmproj "$prefix-mmproj.gguf" -p 196 -n 64 --image-size 392 -r 3 -t "$threads"

#!/usr/bin/env bash
# Side-by-side speed of edgevl and llama.cpp on the same GGUF files, same thread count.
#
#   LLAMA_CPP=/path/to/llama.cpp/build/bin scripts/compare_llama_cpp.sh PREFIX [THREADS]
#
# PREFIX.gguf / PREFIX-mmproj.gguf come from `edgevl make-model`, `edgevl convert` or
# llama.cpp's own tools (add --legacy-clip-names to ours for llama.cpp builds from before
# mid-2025, whose only Qwen2-VL tool is llama-qwen2vl-cli). Each round runs, one after the
# other so that load changes on a shared machine hit both alike:
#   llama-bench (pp196, tg64, one repetition),
#   llama-mtmd-cli (or llama-qwen2vl-cli) on a square image, with -v: its "mtmd batch encoding
#     done in" / "image slice encoded in" line (vision tower), "prompt eval time" (image + text
#     prefill) and peak RSS (-c 4096: its default context is the model's, 256k tokens for
#     Qwen3-VL, a 22 GB KV cache),
#   edgevl bench with the same settings (-r 1, --json).
# Then prints a Markdown table of the means over the rounds and the ratio edgevl/llama.cpp.
# Environment: ROUNDS (default 2), IMAGE (default the fixture's demo_sq448.png for a Qwen3-VL
# file, demo_sq392.png otherwise), OUT (directory for the raw logs, default a temp dir),
# REPORT_ONLY=1 (print the table again from the logs already in OUT, running nothing).
# llama.cpp is not part of edgevl: build it yourself (cmake -DGGML_NATIVE=ON, Release).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${1:?usage: LLAMA_CPP=DIR $0 PREFIX [THREADS]}"
threads="${2:-$(nproc)}"
bin="${LLAMA_CPP:?set LLAMA_CPP to llama.cpp\'s build/bin directory}"
rounds="${ROUNDS:-2}"
edgevl=./build/bin/edgevl
out="${OUT:-$(mktemp -d)}"
mkdir -p "$out"

# The image side follows the family: 448 (patch 16 x merge 2) for Qwen3-VL, 392 otherwise.
size=392
if head -c 4096 "$prefix.gguf" | grep -aq qwen3vl; then size=448; fi
image="${IMAGE:-../shared/fixtures/images/demo_sq$size.png}"

vl=""
for c in llama-mtmd-cli llama-qwen2vl-cli; do
  if [ -x "$bin/$c" ]; then vl="$bin/$c"; break; fi
done
timer=(); [ -x /usr/bin/time ] && timer=(/usr/bin/time -v)  # peak RSS (Debian package "time")

if [ -n "${REPORT_ONLY:-}" ]; then rounds_to_run=0; else rounds_to_run=$rounds; fi
echo "logs in $out; $rounds rounds, $threads threads, image $image; load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for r in $(seq 1 "$rounds_to_run"); do
  echo "round $r: llama-bench" >&2
  "$bin/llama-bench" -m "$prefix.gguf" -p 196 -n 64 -t "$threads" -r 1 -o json > "$out/llama-bench.$r.json"
  if [ -n "$vl" ]; then
    echo "round $r: $(basename "$vl")" >&2
    "${timer[@]}" "$vl" -m "$prefix.gguf" --mmproj "$prefix-mmproj.gguf" --image "$image" \
      -p "Describe this image." -n 1 --temp 0 -t "$threads" -c 4096 -v > "$out/mtmd.$r.log" 2>&1 || true
  fi
  echo "round $r: edgevl bench" >&2
  "$edgevl" bench -m "$prefix.gguf" --mmproj "$prefix-mmproj.gguf" -p 196 -n 64 --image-size "$size" -r 1 \
    -t "$threads" --json > "$out/edgevl.$r.json"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$out" "$rounds" "$size" <<'EOF'
import json, re, statistics, sys
out, rounds, size = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = {}  # metric -> (edgevl values, llama.cpp values, higher is better)
def stamp(log, pattern):
    m = re.search(r"^(\d+)\.(\d+)\.(\d+)\.(\d+) .*" + pattern, log, re.M)
    return int(m[1]) * 60 + int(m[2]) + int(m[3]) / 1e3 + int(m[4]) / 1e6 if m else None
def add(metric, ev, lc, higher):
    e, l, _ = rows.setdefault(metric, ([], [], higher))
    if ev is not None: e.append(ev)
    if lc is not None: l.append(lc)
for r in range(1, rounds + 1):
    ev = json.load(open(f"{out}/edgevl.{r}.json"))
    lb = json.load(open(f"{out}/llama-bench.{r}.json"))
    pp = next((t["avg_ts"] for t in lb if t["n_prompt"] > 0 and t["n_gen"] == 0), None)
    tg = next((t["avg_ts"] for t in lb if t["n_gen"] > 0 and t["n_prompt"] == 0), None)
    add("prefill pp196 (tok/s)", ev["prefill"]["tokens_per_s"]["mean"], pp, True)
    add("decode tg64 (tok/s)", ev["decode"]["tokens_per_s"]["mean"], tg, True)
    enc = ttft = rss = None
    try:
        log = open(f"{out}/mtmd.{r}.log", errors="replace").read()
        # current llama-mtmd-cli: "mtmd batch encoding done in N ms"; older: "image slice encoded in N ms"
        m = re.search(r"(?:mtmd batch encoding done|image slice encoded) in (\d+) ms", log)
        enc = float(m.group(1)) / 1000 if m else None
        m = re.search(r"prompt eval time =\s*([\d.]+) ms", log)
        if m and enc is not None:
            # Current llama-mtmd-cli counts the image encode inside "prompt eval time" (the
            # timestamps show it: the prompt eval line comes less than its own length after
            # "encoding done"), so adding the two counted the encode twice. With -v each log
            # line starts with a timestamp (minutes.seconds.ms.us): TTFT = from the start of
            # the encode to that line, which follows the first token.
            pe = float(m.group(1)) / 1000
            t_enc = stamp(log, r"(?:mtmd batch encoding done|image slice encoded) in")
            t_pe = stamp(log, r"prompt eval time =")
            if t_enc is not None and t_pe is not None:
                ttft = t_pe - (t_enc - enc)
            else:
                ttft = pe if pe >= enc else enc + pe
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", log)
        rss = int(m.group(1)) * 1024 / 1e9 if m else None
    except OSError:
        pass
    add(f"image encode {size}x{size} (s)", ev["image_encode"]["ms"]["mean"] / 1000, enc, False)
    add("time to first token, image question (s)", ev["ttft"]["ms"]["mean"] / 1000, ttft, False)
    add("peak RSS (GB)", ev["peak_rss_bytes"] / 1e9, rss, False)
print(f"| means of {rounds} interleaved rounds | edgevl | llama.cpp | edgevl / llama.cpp speed |")
print("| :--- | ---: | ---: | ---: |")
for metric, (e, l, higher) in rows.items():
    if not e or not l:
        print(f"| {metric} | {statistics.mean(e) if e else float('nan'):.3g} | n/a | n/a |")
        continue
    me, ml = statistics.mean(e), statistics.mean(l)
    ratio = me / ml if higher else ml / me
    note = "" if "RSS" not in metric else " (memory: llama.cpp / edgevl)"
    print(f"| {metric} | {me:.3g} | {ml:.3g} | {ratio:.2f}x{note} |")
EOF

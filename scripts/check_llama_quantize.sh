#!/usr/bin/env bash
# Files made by llama.cpp's llama-quantize, run by edgevl (and the other way round), on the
# tiny fixtures. Not part of CI: it needs a llama.cpp build, which is not part of edgevl.
#
#   LLAMA_CPP=/path/to/llama.cpp/build/bin scripts/check_llama_quantize.sh [OUTDIR]
#
# For each tiny model (Qwen2-VL, Qwen2.5-VL, Qwen3-VL):
#  1. `edgevl convert` to f32 text + f16 mmproj (and a q8_0 mmproj), and edgevl's own
#     q4_k_m / q5_k_m / q6_k / q8_0 files;
#  2. llama-quantize the f32 text file to Q4_K_M, Q5_K_M, Q6_K, Q8_0 and the f16 mmproj to Q8_0;
#  3. diff the per-tensor ggml types of llama-quantize's files and edgevl's (0 = same mix);
#  4. edgevl greedy (16 tokens, `chat --json`) on the text-only prompt and on an image
#     question, with each file and the f16 (edgevl) and Q8_0 (llama-quantize) mmproj: tokens equal to edgevl's own f32
#     run at the same position;
#  5. llama.cpp greedy (llama-simple) on the same text file and the golden text-only prompt,
#     compared with edgevl's text on that file.
# Needs python3 (stdlib) for scripts/gguf_tensor_types.py and the tables.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${LLAMA_CPP:?set LLAMA_CPP to llama.cpp\'s build/bin directory}"
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
edgevl=./build/bin/edgevl
fx=../shared/fixtures
types="Q4_K_M Q5_K_M Q6_K Q8_0"
echo "files and logs in $out" >&2

for m in qwen2-vl qwen2.5-vl qwen3-vl; do
  hf="$fx/tiny-$m"
  "$edgevl" convert --hf "$hf" --out "$out/$m.f32" --type f32 --vision-type f16 2>/dev/null
  "$edgevl" convert --hf "$hf" --out "$out/$m.f32vq8" --type f32 --vision-type q8_0 2>/dev/null
  # mmproj Q8_0 by llama-quantize (from our f16 mmproj) beside edgevl's --vision-type q8_0
  "$bin/llama-quantize" "$out/$m.f32-mmproj.gguf" "$out/$m.llama-Q8_0-mmproj.gguf" Q8_0 > "$out/$m.llama-mmproj.quantize.log" 2>&1 ||
    { echo "llama-quantize $m mmproj failed, see $out/$m.llama-mmproj.quantize.log" >&2; exit 1; }
  python3 scripts/gguf_tensor_types.py "$out/$m.llama-Q8_0-mmproj.gguf" | sort > "$out/$m.llama-mmproj-Q8_0.types"
  python3 scripts/gguf_tensor_types.py "$out/$m.f32vq8-mmproj.gguf" | sort > "$out/$m.edgevl-mmproj-q8_0.types"
  for t in $types; do
    lt=$(echo "$t" | tr 'A-Z' 'a-z')
    "$bin/llama-quantize" "$out/$m.f32.gguf" "$out/$m.llama-$t.gguf" "$t" > "$out/$m.llama-$t.quantize.log" 2>&1 ||
      { echo "llama-quantize $m $t failed, see $out/$m.llama-$t.quantize.log" >&2; exit 1; }
    "$edgevl" convert --hf "$hf" --out "$out/$m.edgevl-$lt" --type "$lt" --vision-type f16 2>/dev/null
    python3 scripts/gguf_tensor_types.py "$out/$m.llama-$t.gguf" | sort > "$out/$m.llama-$t.types"
    python3 scripts/gguf_tensor_types.py "$out/$m.edgevl-$lt.gguf" | sort > "$out/$m.edgevl-$lt.types"
  done
done

python3 - "$out" "$bin" "$edgevl" "$fx" "$types" <<'EOF'
import json, os, subprocess, sys
out, bin_, edgevl, fx, types = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5].split()
N = 16

def edgevl_greedy(model, mmproj, image, size, prompt):
    cmd = [edgevl, "chat", "-m", model, "--mmproj", mmproj, "--json", "--temp", "0", "--ignore-eos",
           "--max-new-tokens", str(N), "-t", "2"]
    if image: cmd += ["-i", image, "--fixed-size", str(size)]
    r = subprocess.run(cmd, input=prompt.encode(), capture_output=True)
    if r.returncode: return None, r.stderr.decode(errors="replace").strip().splitlines()[-1:]
    j = json.loads(r.stdout.decode().strip().splitlines()[0])
    return j["tokens"], j["text"]

def llama_greedy(model, prompt):
    # llama-simple: greedy, parses special tokens, no chat template, no sampler options; it
    # reproduces the Hugging Face goldens on edgevl's f32 Qwen2-VL / Qwen2.5-VL files.
    # (llama-completion with --temp 0 did not, even there, so it is not used.) On the tiny
    # Qwen3-VL it aborts: llama.cpp's qwen3vl graph adds each DeepStack slice for all tokens of
    # the batch after the last layer was cut to the output rows, which fails when the last
    # layer is a DeepStack layer (2 layers, 2 mergers here); reported as "llama.cpp failed".
    r = subprocess.run([os.path.join(bin_, "llama-simple"), "-m", model, "-n", str(N), prompt], capture_output=True)
    s = r.stdout.decode(errors="replace")
    return s[len(prompt):] if r.returncode == 0 and s.startswith(prompt) else None

def leading_tokens(model, tokens, text):
    """How many of edgevl's tokens llama.cpp's text starts with (decoded with edgevl's tokenizer;
    a binary search, since a longer prefix only matches if the shorter ones do)."""
    def starts(k):
        r = subprocess.run([edgevl, "tokenize", "--model", model, "--decode"] + [str(t) for t in tokens[:k]], capture_output=True)
        return r.returncode == 0 and text.startswith(r.stdout.decode(errors="replace").rstrip("\n"))
    lo, hi = 0, len(tokens)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts(mid): lo = mid
        else: hi = mid - 1
    return lo

def same(a, b):
    return sum(1 for x, y in zip(a, b) if x == y) if a and b else 0

print("## Per-tensor types: llama-quantize vs edgevl convert (text file)\n")
print("| model | type | tensors | differing |")
print("| :--- | :--- | ---: | ---: |")
for m in ["qwen2-vl", "qwen2.5-vl", "qwen3-vl"]:
    for t in types + ["mmproj-Q8_0"]:
        a = open(f"{out}/{m}.llama-{t}.types").read().splitlines()
        b = open(f"{out}/{m}.edgevl-{t.lower()}.types").read().splitlines()
        diff = sorted(set(a) ^ set(b))
        print(f"| {m} | {t} | {len(a)} | {len(diff) // 2 if diff else 0}{' ' + '; '.join(diff[:4]) if diff else ''} |")

print(f"\n## edgevl greedy ({N} tokens) on each file: positions equal to edgevl's own f32 file\n")
print("| model | text file | mmproj | text-only | image | llama.cpp text-only = edgevl on the same file |")
print("| :--- | :--- | :--- | ---: | ---: | :--- |")
for m in ["qwen2-vl", "qwen2.5-vl", "qwen3-vl"]:
    cases = json.load(open(f"{fx}/tiny-{m}/golden/manifest.json"))["cases"]
    text_prompt = "Hello! Tell me a short story about 3 dragons and a \u4e2d\u6587 poem."
    size = 448 if m == "qwen3-vl" else 392
    image = f"{fx}/images/demo_sq{size}.png"
    base_t, _ = edgevl_greedy(f"{out}/{m}.f32.gguf", f"{out}/{m}.f32-mmproj.gguf", None, size, text_prompt)
    base_i, _ = edgevl_greedy(f"{out}/{m}.f32.gguf", f"{out}/{m}.f32-mmproj.gguf", image, size, "<image>Describe this image.")
    files = [("f32 (edgevl)", f"{out}/{m}.f32.gguf")] + [(f"{t} (llama-quantize)", f"{out}/{m}.llama-{t}.gguf") for t in types] + \
            [(f"{t.lower()} (edgevl)", f"{out}/{m}.edgevl-{t.lower()}.gguf") for t in types]
    for name, f in files:
        for mm_name, mm in [("f16", f"{out}/{m}.f32-mmproj.gguf"), ("Q8_0 (llama-quantize)", f"{out}/{m}.llama-Q8_0-mmproj.gguf")]:
            if mm_name != "f16" and "edgevl" in name and "f32" not in name: continue
            tt, text = edgevl_greedy(f, mm, None, size, text_prompt)
            ti, _ = edgevl_greedy(f, mm, image, size, "<image>Describe this image.")
            lc = ""
            if mm_name == "f16":
                got = llama_greedy(f, cases["text_only"]["prompt_text"])
                lc = "llama.cpp failed" if got is None else f"{leading_tokens(f, tt, got) if tt else 0}/{N} leading tokens equal"
            st = f"{same(tt, base_t)}/{N}" if tt else f"failed {text}"
            si = f"{same(ti, base_i)}/{N}" if ti else "failed"
            print(f"| {m} | {name} | {mm_name} | {st} | {si} | {lc} |", flush=True)
EOF

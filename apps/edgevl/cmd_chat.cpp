// `edgevl chat` and `edgevl demo`: multi-turn chat about an image, in the spirit of the
// RKLLM multimodal demo, written only against the public C API (edgevl.h).
// Interactive on a terminal (presets by number, streaming); one turn per line when
// stdin is a pipe, with --json printing one object per turn.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chat_loop.h"
#include "commands.h"
#include "default_model.h"

namespace edgevl_cli {

int cmd_chat(int argc, char** argv) {
  CLI::App app{"Chat about an image with a Qwen2-VL / Qwen2.5-VL / Qwen3-VL model (multi-turn, streaming)", "edgevl chat"};
  ChatOptions o;
  o.model = default_model_path();
  app.add_option("-m,--model", o.model, "Hugging Face model directory (or text-model .gguf); default: the bundled demo model");
  app.add_option("--mmproj", o.mmproj, "vision .gguf (with a .gguf model)");
  app.add_option("-i,--image", o.image, "image to talk about (JPEG/PNG/BMP/GIF)");
  app.add_option("--fixed-size", o.fixed_size, "on-device preprocessing: pad to square, resize to N x N (a multiple of patch x merge: 28, or 32 for Qwen3-VL), e.g. 392 or 448");
  app.add_option("--min-pixels", o.min_pixels, "HF processor: minimum pixels after resize");
  app.add_option("--max-pixels", o.max_pixels, "HF processor: maximum pixels after resize");
  app.add_flag("--json", o.json, "one JSON object per turn (non-interactive use)");
  app.add_option("--temp", o.temp, "sampling temperature (0 = greedy)");
  app.add_option("--top-k", o.top_k, "top-k sampling (0 = off)");
  app.add_option("--top-p", o.top_p, "nucleus sampling threshold (1 = off)");
  app.add_option("--repeat-penalty", o.repeat_penalty, "repetition penalty (1 = off)");
  app.add_option("--frequency-penalty", o.frequency_penalty, "frequency penalty");
  app.add_option("--presence-penalty", o.presence_penalty, "presence penalty");
  app.add_option("--seed", o.seed, "random seed for sampling");
  app.add_option("--max-new-tokens", o.max_new_tokens, "maximum tokens per reply");
  app.add_flag("--ignore-eos", o.ignore_eos, "do not stop at <|im_end|>");
  app.add_option("--max-context", o.max_context, "KV cache size in tokens");
  std::string kv_type = "f32";
  app.add_option("--kv-type", kv_type, "KV cache element type: f32, or f16 for half the memory")->check(CLI::IsMember({"f32", "f16"}));
  app.add_option("--keep", o.n_keep, "with --evict: tokens never evicted (-1 = the system prompt)");
  app.add_flag("--evict", o.evict, "when the context is full, drop the oldest turns instead of refusing");
  app.add_option("-t,--threads", o.threads, "threads (0 = all cores)");
  CLI::Option* system = app.add_option("--system", o.system,
                                       "system prompt (default: the model's; Qwen2-VL/2.5-VL \"You are a helpful assistant.\", Qwen3-VL none)");
  app.add_flag("--no-prepare", o.no_prepare, "do not start encoding an image before the question arrives");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  o.system_given = system->count() > 0;
  o.kv_f16 = kv_type == "f16";
  if (o.model.empty()) {
    std::fprintf(stderr, "edgevl chat: no --model given and the bundled demo model (models/shapes-qwen2-vl) was not found\n");
    return 2;
  }
  return run_chat(o);
}

// Positional form of the RKLLM multimodal demo:
//   demo IMAGE VISION_MODEL LLM_MODEL MAX_NEW_TOKENS MAX_CONTEXT_LEN [THREADS]
// With a Hugging Face directory both model arguments name the same directory; with
// GGUF files VISION_MODEL is the mmproj file and LLM_MODEL the text model.
int cmd_demo(int argc, char** argv) {
  if (argc < 6 || argc > 7 || !std::strcmp(argv[1], "--help")) {
    std::fprintf(stderr,
                 "usage: edgevl demo IMAGE VISION_MODEL LLM_MODEL MAX_NEW_TOKENS MAX_CONTEXT_LEN [THREADS]\n"
                 "  (the RKLLM multimodal demo's arguments; a Hugging Face directory may be given for both models)\n");
    return argc == 2 ? 0 : 2;
  }
  ChatOptions o;
  o.image = argv[1];
  o.model = argv[3];
  const std::string llm = argv[3];
  if (llm.size() > 5 && llm.compare(llm.size() - 5, 5, ".gguf") == 0) o.mmproj = argv[2];
  try {
    o.max_new_tokens = std::stoi(argv[4]);
    o.max_context = std::stoll(argv[5]);
    if (argc == 7) o.threads = std::stoi(argv[6]);
  } catch (const std::exception&) {
    std::fprintf(stderr, "edgevl demo: MAX_NEW_TOKENS, MAX_CONTEXT_LEN and THREADS must be numbers\n");
    return 2;
  }
  o.fixed_size = -1;  // the demo's preprocessing: 392x392 (Qwen2-VL, Qwen2.5-VL) or 448x448 (Qwen3-VL)
  return run_chat(o);
}

}  // namespace edgevl_cli

#include "commands.h"

namespace edgevl_cli {

// Registered here so the list (and its order in --help) is in one place.
const std::vector<Command>& commands() {
  static const std::vector<Command> list = {
      {"chat", "multi-turn chat about an image (streaming)", cmd_chat},
      {"demo", "RKLLM-demo compatible: demo IMAGE VISION_MODEL LLM_MODEL MAX_NEW_TOKENS MAX_CONTEXT_LEN [THREADS]", cmd_demo},
      {"convert", "Hugging Face directory -> GGUF text model + mmproj (q4_k_m/q5_k_m/q6_k/q8_0/q4_0/f16/...)", cmd_convert},
      {"tokenize", "text -> token ids (and back)", cmd_tokenize},
      {"eval", "score answers on a .jsonl set of dialogues (exact match per question type, turn, language)", cmd_eval},
      {"serve", "OpenAI-compatible HTTP server with a web chat page", cmd_serve},
      {"bench", "measure image encode, prefill, decode, time to first token, memory (like llama-bench)", cmd_bench},
      {"make-model", "write a random-weight GGUF pair with the exact shapes of a real model (for benchmarks)", cmd_make_model},
  };
  return list;
}

}  // namespace edgevl_cli

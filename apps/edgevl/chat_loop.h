// The interactive/scripted chat loop shared by `edgevl chat` and `edgevl demo`.
#pragma once
#include <cstdint>
#include <string>

namespace edgevl_cli {

struct ChatOptions {
  std::string model, mmproj, image, system;
  bool system_given = false;  // --system given (else the model's default system prompt)
  bool json = false, ignore_eos = false, evict = false, no_prepare = false;
  int threads = 0, max_new_tokens = 512, top_k = 0, n_keep = -1;
  int fixed_size = 0;  // > 0: on-device square size; -1: the model's demo size (392, or 448 for Qwen3-VL)
  int64_t max_context = 4096, min_pixels = 0, max_pixels = 0;
  bool kv_f16 = false;  // --kv-type f16
  float temp = 0.0f, top_p = 1.0f, repeat_penalty = 1.0f, frequency_penalty = 0.0f, presence_penalty = 0.0f;
  uint64_t seed = 0;
};

int run_chat(const ChatOptions& o);

}  // namespace edgevl_cli

// The interactive/scripted chat loop shared by `edgevl chat` and `edgevl demo`.
#pragma once
#include <cstdint>
#include <string>

namespace edgevl_cli {

struct ChatOptions {
  std::string model, mmproj, image, system = "You are a helpful assistant.";
  bool json = false, ignore_eos = false, evict = false, no_prepare = false;
  int threads = 0, max_new_tokens = 512, top_k = 0, fixed_size = 0, n_keep = -1;
  int64_t max_context = 4096, min_pixels = 0, max_pixels = 0;
  float temp = 0.0f, top_p = 1.0f, repeat_penalty = 1.0f, frequency_penalty = 0.0f, presence_penalty = 0.0f;
  uint64_t seed = 0;
};

int run_chat(const ChatOptions& o);

}  // namespace edgevl_cli

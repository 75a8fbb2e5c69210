#include "cli_common.h"

#include <nlohmann/json.hpp>

namespace edgevl_cli {

std::string format_stats(const edgevl::TurnStats& s, int64_t max_context) {
  char buf[512];
  std::string img;
  if (s.images > 0) {
    char b[128];
    std::snprintf(b, sizeof b, "image encode %.1f ms (%d image%s, %d cached) | ", s.image_encode_ms, s.images, s.images == 1 ? "" : "s",
                  s.images - s.images_encoded);
    img = b;
  }
  std::snprintf(buf, sizeof buf,
                "[stats] %sprefill %lld tok in %.1f ms (%.1f tok/s) | decode %lld tok in %.1f ms (%.2f tok/s) | TTFT %.1f ms | KV %lld/%lld | peak RSS %.1f MB",
                img.c_str(), (long long)s.prompt_tokens, s.prefill_ms, s.prefill_tokens_per_s(), (long long)s.decode_tokens, s.decode_ms,
                s.decode_tokens_per_s(), s.ttft_ms, (long long)s.kv_tokens, (long long)max_context, s.peak_rss_bytes / 1048576.0);
  return buf;
}

std::string stats_json(const edgevl::TurnStats& s) {
  nlohmann::json j = {{"prompt_tokens", s.prompt_tokens},      {"image_tokens", s.image_tokens},
                      {"images", s.images},                    {"images_encoded", s.images_encoded},
                      {"image_encode_ms", s.image_encode_ms},  {"prefill_ms", s.prefill_ms},
                      {"prefill_tokens_per_s", s.prefill_tokens_per_s()},
                      {"ttft_ms", s.ttft_ms},                  {"decode_tokens", s.decode_tokens},
                      {"decode_ms", s.decode_ms},              {"decode_tokens_per_s", s.decode_tokens_per_s()},
                      {"kv_tokens", s.kv_tokens},              {"peak_rss_bytes", s.peak_rss_bytes}};
  return j.dump();
}

}  // namespace edgevl_cli

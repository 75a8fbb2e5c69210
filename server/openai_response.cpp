#include "openai_response.h"

#include <cmath>

namespace edgevl_server {

using nlohmann::json;

namespace {
double r2(double v) { return std::round(v * 100.0) / 100.0; }
}  // namespace

std::string dump_json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

json timings_json(const Timings& t) {
  return {{"queue_ms", r2(t.queue_ms)},
          {"ttft_ms", r2(t.ttft_ms)},
          {"images", t.images},
          {"image_tokens", t.image_tokens},
          {"image_encode_ms", r2(t.image_encode_ms)},
          {"prefill_tokens", t.prefill_tokens},
          {"prefill_ms", r2(t.prefill_ms)},
          {"prefill_tokens_per_s", r2(t.prefill_tokens_per_s)},
          {"decode_tokens", t.decode_tokens},
          {"decode_ms", r2(t.decode_ms)},
          {"decode_tokens_per_s", r2(t.decode_tokens_per_s)},
          {"kv_tokens", t.kv_tokens}};
}

json completion_json(const Job& job, const std::string& model, int64_t created) {
  return {{"id", job.id},
          {"object", "chat.completion"},
          {"created", created},
          {"model", model},
          {"system_fingerprint", nullptr},
          {"choices",
           json::array({{{"index", 0},
                         {"message", {{"role", "assistant"}, {"content", job.content}, {"refusal", nullptr}}},
                         {"logprobs", nullptr},
                         {"finish_reason", job.finish_reason}}})},
          {"usage", usage_json(job.usage)},
          {"timings", timings_json(job.timings)}};
}

json chunk_json(const Job& job, const std::string& model, int64_t created, const json& delta, const std::string& finish_reason) {
  json j = {{"id", job.id},
            {"object", "chat.completion.chunk"},
            {"created", created},
            {"model", model},
            {"system_fingerprint", nullptr},
            {"choices",
             json::array({{{"index", 0},
                           {"delta", delta},
                           {"logprobs", nullptr},
                           {"finish_reason", finish_reason.empty() ? json(nullptr) : json(finish_reason)}}})}};
  if (!finish_reason.empty()) j["timings"] = timings_json(job.timings);
  return j;
}

json usage_chunk_json(const Job& job, const std::string& model, int64_t created) {
  return {{"id", job.id},
          {"object", "chat.completion.chunk"},
          {"created", created},
          {"model", model},
          {"system_fingerprint", nullptr},
          {"choices", json::array()},
          {"usage", usage_json(job.usage)}};
}

std::string sse_event(const json& j) { return "data: " + dump_json(j) + "\n\n"; }

}  // namespace edgevl_server

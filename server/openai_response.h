// The JSON the server sends back: chat.completion objects, chat.completion.chunk
// objects framed as server-sent events, usage and the (non-standard) timings block.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "job.h"

namespace edgevl_server {

nlohmann::json usage_json(const Usage& u);
nlohmann::json timings_json(const Timings& t);

// Non-streamed reply.
nlohmann::json completion_json(const Job& job, const std::string& model, int64_t created);

// One chunk of a streamed reply: delta (e.g. {"content":"..."}), finish_reason ("" =
// null). The last chunk (with finish_reason) carries the timings.
nlohmann::json chunk_json(const Job& job, const std::string& model, int64_t created, const nlohmann::json& delta,
                          const std::string& finish_reason);
// The extra final chunk of stream_options.include_usage: no choices, only usage.
nlohmann::json usage_chunk_json(const Job& job, const std::string& model, int64_t created);

// "data: <json>\n\n". Invalid UTF-8 is replaced rather than thrown on.
std::string sse_event(const nlohmann::json& j);
inline std::string sse_done() { return "data: [DONE]\n\n"; }

std::string dump_json(const nlohmann::json& j);

}  // namespace edgevl_server

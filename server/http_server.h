// `edgevl serve`: an OpenAI-compatible HTTP server over the edgevl C API.
//   POST /v1/chat/completions   (streamed or not, images, multi-turn with KV reuse)
//   GET  /v1/models, /health, /metrics, and the web chat page at /
#pragma once
#include <cstdint>
#include <string>

namespace edgevl_server {

struct ServerOptions {
  std::string model_path;           // a Hugging Face directory or a text-model .gguf
  std::string mmproj_path;          // with a .gguf: the vision (mmproj) .gguf
  std::string model_name;          // id in /v1/models; "" = the model directory's name
  std::string host = "127.0.0.1";
  int port = 8080;                 // 0 = any free port (printed on stdout)
  int parallel = 1;                // generations at once
  int max_sessions = 4;            // cached conversations (KV caches) kept
  int max_queue = 8;               // requests waiting for a generation slot
  int max_context = 4096;          // per session, tokens
  bool kv_f16 = false;             // KV caches in f16 (half the memory)
  int threads = 0;                 // per generation; 0 = cores / parallel
  int max_tokens = 512;            // default max_tokens
  int max_images = 8;              // per request
  int image_max_tokens = 0;        // per image; 0 = min(1024, max_context / 2)
  int image_max_mpx = 24;          // decoded images larger than this are refused
  int max_body_mb = 32;
  int fixed_size = 0;              // >0: on-device square image preprocessing
  std::string allow_local_images;  // directory; "" = refuse local paths
  std::string api_key;             // "" = none; else /v1/* and /metrics need "Authorization: Bearer KEY"
  bool no_api_key = false;         // allow a non-loopback --host without an API key
  bool parse_special = false;      // message text may hold control tokens (default: literal text)
};

// Why these options cannot be served ("" when they can): e.g. a non-loopback host
// without an API key.
std::string check_options(const ServerOptions& opt);

// Loads the model, serves until SIGINT/SIGTERM, returns the process exit code.
int run_server(const ServerOptions& opt);

}  // namespace edgevl_server

// `edgevl serve`: the OpenAI-compatible HTTP server (server/). This file only parses
// flags; the server itself uses nothing but the public C API (edgevl.h).
#include "commands.h"

#ifndef EDGEVL_WITH_SERVER
#include <cstdio>

namespace edgevl_cli {
int cmd_serve(int, char**) {
  std::fprintf(stderr, "edgevl serve: this build has no HTTP server (cpp-httplib was not found when it was configured)\n");
  return 2;
}
}  // namespace edgevl_cli
#else
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "default_model.h"
#include "http_server.h"

namespace edgevl_cli {

int cmd_serve(int argc, char** argv) {
  CLI::App app{"OpenAI-compatible HTTP server with images, streaming, multi-turn KV reuse and a web chat page", "edgevl serve"};
  edgevl_server::ServerOptions o;
  o.model_path = default_model_path();
  app.add_option("-m,--model", o.model_path, "Hugging Face model directory, or a text-model .gguf; default: the bundled demo model");
  app.add_option("--mmproj", o.mmproj_path, "with a .gguf model: the vision (mmproj) .gguf");
  app.add_option("--host", o.host, "address to bind (default 127.0.0.1: this machine only)");
  app.add_option("--port", o.port, "port (0 = any free port, printed on stdout)")->check(CLI::Range(0, 65535));
  app.add_option("--parallel", o.parallel, "generations run at once (each on --threads threads)")->check(CLI::Range(1, 64));
  app.add_option("--max-sessions", o.max_sessions, "conversations kept with their KV cache (LRU)")->check(CLI::Range(1, 1024));
  app.add_option("--max-queue", o.max_queue, "requests that may wait for a generation slot; more get 429")->check(CLI::Range(0, 4096));
  app.add_option("--max-context", o.max_context, "KV cache size per session, in tokens")->check(CLI::Range(64, 1 << 20));
  std::string kv_type = "f32";
  app.add_option("--kv-type", kv_type, "KV cache element type: f32, or f16 for half the memory")->check(CLI::IsMember({"f32", "f16"}));
  app.add_option("-t,--threads", o.threads, "threads per generation (0 = cores / --parallel)")->check(CLI::Range(0, 1024));
  app.add_option("--max-tokens", o.max_tokens, "max_tokens when a request gives none")->check(CLI::Range(1, 1 << 20));
  app.add_option("--max-images", o.max_images, "images allowed in one request")->check(CLI::Range(0, 1024));
  app.add_option("--image-max-tokens", o.image_max_tokens, "largest image, in tokens; bigger ones are scaled down (0 = min(1024, context/2))")
      ->check(CLI::Range(0, 1 << 20));
  app.add_option("--image-max-mpx", o.image_max_mpx, "decoded images over this many megapixels are refused")->check(CLI::Range(1, 1000));
  app.add_option("--max-body-mb", o.max_body_mb, "largest request body (and image), in MiB")->check(CLI::Range(1, 4096));
  app.add_option("--fixed-size", o.fixed_size, "on-device preprocessing: pad images to square, resize to N x N (e.g. 392; 448 for Qwen3-VL)");
  app.add_option("--allow-local-images", o.allow_local_images, "let requests name image files (file:// or paths) inside this directory, reached without symlinks or ..");
  app.add_option("--model-name", o.model_name, "model id reported by /v1/models (default: the directory name)");
  app.add_option("--api-key", o.api_key,
                 "require \"Authorization: Bearer KEY\" on /v1/* and /metrics (default: $EDGEVL_API_KEY); "
                 "needed when --host is not a loopback address");
  app.add_flag("--no-api-key", o.no_api_key, "serve a non-loopback --host without an API key (anyone who can reach it may use it)");
  app.add_flag("--parse-special", o.parse_special,
               "let message text hold control tokens such as <|im_end|> (default: text is literal, so users cannot "
               "inject chat-template framing)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  o.kv_f16 = kv_type == "f16";
  if (o.model_path.empty()) {
    std::fprintf(stderr, "edgevl serve: no --model given and the bundled demo model (models/shapes-qwen2-vl) was not found\n");
    return 2;
  }
  if (o.api_key.empty())
    if (const char* env = std::getenv("EDGEVL_API_KEY")) o.api_key = env;
  return edgevl_server::run_server(o);
}

}  // namespace edgevl_cli
#endif  // EDGEVL_WITH_SERVER

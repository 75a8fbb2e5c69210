// edgevl bench: image encode, prefill, decode and time-to-first-token speed of one model on
// this machine, with repetitions (mean ± sd), peak memory and the machine's read bandwidth;
// a markdown table like llama-bench's (default) or JSON. The measuring is in runtime/bench.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "commands.h"
#include "core/cpu_features.h"
#include "runtime/bench.h"

namespace edgevl_cli {

int cmd_bench(int argc, char** argv) {
  CLI::App app{"Measure image encode, prefill, decode and time to first token of a model (like llama-bench)", "edgevl bench"};
  edgevl::BenchParams p;
  bool json = false, md = false, quiet = false, no_warmup = false, no_ttft = false;
  double bw_mib = 256;
  app.add_option("-m,--model", p.model, "Hugging Face model directory or text-model .gguf")->required();
  app.add_option("--mmproj", p.mmproj, "vision (mmproj) .gguf: with a .gguf model, needed for the image tests");
  app.add_option("-p,--n-prompt", p.n_prompt, "prefill length in tokens (0 = skip)");
  app.add_option("-n,--n-gen", p.n_gen, "decode steps (0 = skip)");
  app.add_option("--image-size", p.image_size, "synthetic image side in pixels, a multiple of patch x merge (28; 32 for Qwen3-VL); 0 = skip the image tests; default: 392 (448 for Qwen3-VL)");
  app.add_option("-r,--repetitions", p.reps, "repetitions of each test");
  app.add_option("-t,--threads", p.n_threads, "threads (0 = all cores)");
  app.add_option("--decode-context", p.decode_context, "tokens prefilled before the decode steps");
  std::string kv_type = "f32";
  app.add_option("--kv-type", kv_type, "KV cache element type: f32 or f16 (half the memory)")->check(CLI::IsMember({"f32", "f16"}));
  app.add_option("--seed", p.seed, "seed of the token ids and image pixels");
  app.add_option("--bandwidth-mib", bw_mib, "buffer of the memory bandwidth probe in MiB (0 = skip)");
  app.add_flag("--no-warmup", no_warmup, "no untimed pass over the weights first");
  app.add_flag("--no-ttft", no_ttft, "skip the end-to-end image question");
  auto* oj = app.add_flag("--json", json, "print JSON");
  auto* om = app.add_flag("--md", md, "print a markdown table (the default)");
  oj->excludes(om);
  app.add_flag("-q,--quiet", quiet, "no progress on stderr");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  p.kv_type = edgevl::parse_kv_type(kv_type);
  if (bw_mib < 0 || bw_mib > 65536) {
    std::fprintf(stderr, "edgevl bench: --bandwidth-mib must be between 0 and 65536\n");
    return 2;
  }
  p.bandwidth_bytes = static_cast<size_t>(bw_mib * 1048576.0);
  p.warmup = !no_warmup;
  p.ttft = !no_ttft;
  if (!quiet) p.log = [](const std::string& s) { std::fprintf(stderr, "bench: %s\n", s.c_str()); };
  try {
    const edgevl::BenchResult r = edgevl::run_bench(p);
    if (json)
      std::printf("%s\n", edgevl::bench_json(r).dump(2).c_str());
    else
      std::printf("%s", edgevl::bench_markdown(r).c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "edgevl bench: %s\n", e.what());
    return 1;
  }
}

}  // namespace edgevl_cli

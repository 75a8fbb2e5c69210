// edgevl make-model: a random-weight GGUF pair (PREFIX.gguf + PREFIX-mmproj.gguf) with the
// exact shapes and hyper-parameters of a real Qwen2-VL / Qwen2.5-VL model, for benchmarking
// speed and memory without downloading one. The answers of such a model are noise.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "commands.h"
#include "core/dtype.h"
#include "core/error.h"
#include "formats/random_model.h"

#ifndef EDGEVL_DEFAULT_FIXTURES_DIR
#define EDGEVL_DEFAULT_FIXTURES_DIR "../shared/fixtures"
#endif

namespace edgevl_cli {

namespace {

bool parse_type(const std::string& s, edgevl::DType* t) {
  using edgevl::DType;
  if (s == "q4_0") *t = DType::Q4_0;
  else if (s == "q8_0") *t = DType::Q8_0;
  else if (s == "f16") *t = DType::F16;
  else if (s == "bf16") *t = DType::BF16;
  else if (s == "f32") *t = DType::F32;
  else return false;
  return true;
}

bool has_tokenizer(const std::string& dir) {
  struct stat st {};
  return ::stat((dir + "/tokenizer.json").c_str(), &st) == 0;
}

// --tokenizer, else the tiny fixture of the same family under $EDGEVL_FIXTURES, else under
// the fixtures directory beside the source tree this binary was built from.
std::string find_tokenizer_dir(const std::string& preset) {
  const std::string tiny = preset.rfind("qwen2.5", 0) == 0 ? "tiny-qwen2.5-vl"
                           : preset.rfind("qwen3", 0) == 0  ? "tiny-qwen3-vl"
                                                            : "tiny-qwen2-vl";
  std::vector<std::string> roots;
  if (const char* env = std::getenv("EDGEVL_FIXTURES"); env && *env) roots.push_back(env);
  roots.push_back(EDGEVL_DEFAULT_FIXTURES_DIR);
  for (const auto& r : roots)
    for (const auto& sub : {tiny, std::string("tiny-qwen2-vl")})
      if (has_tokenizer(r + "/" + sub)) return r + "/" + sub;
  return "";
}

}  // namespace

int cmd_make_model(int argc, char** argv) {
  CLI::App app{"Write a random-weight GGUF pair with the exact shapes of a real model (for benchmarks)", "edgevl make-model"};
  std::string preset, type = "q4_0", vision_type = "f16", out, tokenizer;
  uint64_t seed = 0;
  int layers = 0, vision_layers = 0, threads = 0;
  float stddev = 0.02f;
  bool quiet = false, legacy = false;
  std::string names;
  for (const auto& n : edgevl::random_model_preset_names()) names += (names.empty() ? "" : "|") + n;
  app.add_option("--preset", preset, "model shape: " + names)->required();
  app.add_option("--type", type, "text weights: q4_0|q8_0|f16|bf16|f32, or llama-quantize's mixes q4_k_m|q5_k_m|q6_k");
  app.add_flag("--legacy-clip-names", legacy, "Qwen2-VL mmproj with fc1/fc2 named as llama.cpp builds before mid-2025 expect");
  app.add_option("--vision-type", vision_type, "vision weights: f16|q8_0 (also bf16|f32|q4_0); the patch kernel stays float");
  app.add_option("--out", out, "output prefix: writes PREFIX.gguf and PREFIX-mmproj.gguf")->required();
  app.add_option("--seed", seed, "random seed (the files are a pure function of the seed and the options)");
  app.add_option("--layers", layers, "decoder layers (default: the real model's)");
  app.add_option("--vision-layers", vision_layers, "vision blocks (default: the real model's)");
  app.add_option("--tokenizer", tokenizer, "Hugging Face directory whose tokenizer is copied in (default: the tiny fixture of the same family)");
  app.add_option("--stddev", stddev, "standard deviation of the random weights");
  app.add_option("-t,--threads", threads, "threads (0 = all cores)");
  app.add_flag("-q,--quiet", quiet, "no progress on stderr");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  edgevl::RandomModelOptions opt;
  opt.legacy_clip_ffn_names = legacy;
  if (!edgevl::parse_kquant_mix(type, &opt.text_mix) && !parse_type(type, &opt.text_type)) {
    std::fprintf(stderr, "edgevl make-model: unknown --type '%s' (q4_0, q8_0, f16, bf16, f32, q4_k_m, q5_k_m, q6_k)\n", type.c_str());
    return 2;
  }
  if (!parse_type(vision_type, &opt.vision_type)) {
    std::fprintf(stderr, "edgevl make-model: unknown --vision-type '%s' (f16, q8_0, bf16, f32, q4_0)\n", vision_type.c_str());
    return 2;
  }
  if (layers < 0 || vision_layers < 0) {
    std::fprintf(stderr, "edgevl make-model: --layers and --vision-layers must be positive\n");
    return 2;
  }
  if (tokenizer.empty()) tokenizer = find_tokenizer_dir(preset);
  if (tokenizer.empty() || !has_tokenizer(tokenizer)) {
    std::fprintf(stderr,
                 "edgevl make-model: no tokenizer.json in '%s': pass --tokenizer DIR (a Hugging Face model directory) "
                 "or set EDGEVL_FIXTURES\n",
                 tokenizer.c_str());
    return 1;
  }
  opt.seed = seed;
  opt.stddev = stddev;
  opt.text_layers = layers;
  opt.vision_layers = vision_layers;
  opt.tokenizer_dir = tokenizer;
  opt.n_threads = threads;
  opt.name = "edgevl-random-" + preset;
  if (!quiet)
    opt.progress = [](int file, size_t done, size_t total) {
      if (done == total || done % 16 == 0) std::fprintf(stderr, "\r%s: %zu/%zu tensors", file ? "mmproj" : "text", done, total);
      if (done == total) std::fprintf(stderr, "\n");
    };
  try {
    const edgevl::ModelConfig cfg = edgevl::random_model_preset(preset);
    const std::string text_path = out + ".gguf", mmproj_path = out + "-mmproj.gguf";
    const auto r = edgevl::write_random_model(cfg, opt, text_path, mmproj_path);
    const auto& c = r.plan.config;
    std::printf("%s: %s, %d layers, hidden %d, %.3f B params, %.1f MiB\n", text_path.c_str(), opt.text_mix != edgevl::KQuantMix::None ? edgevl::kquant_mix_name(opt.text_mix) : edgevl::dtype_name(opt.text_type),
                c.text.num_layers, c.text.hidden_size, r.plan.text_params() / 1e9, r.text_file_bytes / 1048576.0);
    std::printf("%s: %s, %d blocks, width %d, %.3f B params, %.1f MiB\n", mmproj_path.c_str(), edgevl::dtype_name(opt.vision_type),
                c.vision.depth, c.vision.embed_dim, r.plan.vision_params() / 1e9, r.mmproj_file_bytes / 1048576.0);
    std::printf("random weights (seed %llu, stddev %g), tokenizer from %s; written in %.1f s\n", static_cast<unsigned long long>(seed),
                static_cast<double>(stddev), tokenizer.c_str(), r.seconds);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "edgevl make-model: %s\n", e.what());
    return 1;
  }
}

}  // namespace edgevl_cli

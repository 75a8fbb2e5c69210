// `edgevl bench`: speed and memory of one model on this machine, in the spirit of
// llama-bench. Each test is repeated and reported as mean ± sample standard deviation:
//   image encode   a synthetic image at image_size x image_size (on-device fixed-size
//                  preprocessing) through Model::encode_image; ms of the vision tower and
//                  GFLOP/s from its matmul + attention FLOPs
//   prefill pN     N random token ids on a fresh KV cache through Qwen2Decoder::forward
//                  (embedding lookup included, logits of the last position); tokens/s, GFLOP/s
//   decode tN      N single-token steps (greedy) after a short prefill; tokens/s, and the
//                  effective bandwidth weight_bytes_per_token() x tokens/s
//   ttft           a fresh Session asked one question about the image: encode + prefill of
//                  the whole first turn (system prompt, image, question) + the first token
// plus peak RSS (VmHWM, read before the bandwidth probe allocates its buffer) and the
// machine's read bandwidth with the same thread count (measure_read_bandwidth_gbs).
// FLOPs count multiply-adds as 2; they are the model's arithmetic, not what a kernel did.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "formats/model_config.h"
#include "llm/kv_cache.h"

namespace edgevl {

struct BenchParams {
  std::string model;   // HF directory or text .gguf
  std::string mmproj;  // with a .gguf: the vision (mmproj) file
  int n_prompt = 196;  // prefill length (0: skip)
  int n_gen = 64;      // decode steps (0: skip)
  // Synthetic image side, a multiple of patch x merge (28; 32 for Qwen3-VL); 0: skip the image
  // tests; -1: the on-device size of RKLLM's demos, 14 merged tokens a side (392; 448 for Qwen3-VL).
  int image_size = -1;
  int reps = 3;
  int n_threads = 0;   // 0 = all cores
  int decode_context = 16;  // tokens prefilled before the decode steps
  KvType kv_type = KvType::F32;  // KV cache of the prefill, decode and TTFT tests
  bool warmup = true;       // one untimed pass over the weights before timing
  bool ttft = true;         // the end-to-end image-question row
  uint64_t seed = 1234;     // token ids and image pixels
  size_t bandwidth_bytes = size_t(256) << 20;  // 0: skip the bandwidth probe
  std::function<void(const std::string&)> log;  // progress lines (may be null)
};

struct BenchStat {
  std::vector<double> samples;
  double mean() const;
  double sd() const;  // sample standard deviation (0 for fewer than 2 samples)
};

struct BenchResult {
  BenchParams params;
  std::string cpu_features;
  std::string kernels;  // the kernels chosen for this CPU: "dot avx2, gemm avx2, fgemm avx2, sgemm OpenBLAS Haswell"
  int threads = 0;
  double load_ms = 0;
  ModelConfig config;
  int64_t text_params = 0;              // all decoder weights (embedding, lm_head if untied, norms, biases)
  size_t decode_bytes_per_token = 0;    // Qwen2Decoder::weight_bytes_per_token()
  int64_t decode_params_per_token = 0;  // the weights those bytes hold
  bool has_vision = false;
  int64_t vision_params = 0;

  bool image_run = false;
  int image_size = 0, image_patches = 0, image_tokens = 0;
  double image_gflop = 0;
  BenchStat image_ms, image_preprocess_ms;

  bool prefill_run = false;
  double prefill_gflop = 0;
  BenchStat prefill_ms;

  bool decode_run = false;
  double decode_gflop = 0;  // all n_gen steps
  BenchStat decode_ms;

  bool ttft_run = false;
  int64_t ttft_prompt_tokens = 0, ttft_image_tokens = 0;
  BenchStat ttft_ms;

  int64_t peak_rss_bytes = 0;
  double bandwidth_gbs = 0;  // 0 when not measured

  double decode_tokens_per_s() const;  // mean over reps of n_gen / seconds
  double decode_effective_gbs() const; // decode_bytes_per_token x decode_tokens_per_s / 1e9
};

BenchResult run_bench(const BenchParams& p);

// A markdown report (header lines + one table row per test) and the same as JSON.
std::string bench_markdown(const BenchResult& r);
nlohmann::json bench_json(const BenchResult& r);

// FLOP estimates used above (2 per multiply-add).
double decoder_prefill_flops(const TextConfig& t, int64_t n_tokens, int64_t n_cached);  // n_tokens more after n_cached, logits of the last
double vision_encode_flops(const VisionConfig& v, int grid_h, int grid_w);                // one frame of grid_h x grid_w patches
int64_t decoder_param_count(const TextConfig& t);
int64_t vision_param_count(const VisionConfig& v);

}  // namespace edgevl

// Random-weight models with the exact shapes and hyper-parameters of real Qwen2-VL /
// Qwen2.5-VL checkpoints, written as a llama.cpp-style GGUF pair (text + mmproj) the way
// convert_hf_to_gguf writes a converted model: same tensor names, types, order of q/k/v,
// metadata and tokenizer. For benchmarking speed and memory on a device without
// downloading a real model; the answers are noise.
//
// Values are deterministic from the seed (and independent of thread count): every row of
// every tensor draws from its own counter-based stream keyed by (seed, tensor name, row).
// Matrices and biases are ~N(0, stddev) (an Irwin–Hall sum of four uniforms: exact mean and
// variance, tails cut at 3.46 sd); norm weights are 1 and LayerNorm biases 0, so activations
// stay finite through every layer. Files are written tensor by tensor, so peak memory is one
// encoded tensor (the embedding table), not the model.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "formats/model_config.h"
#include "formats/quant_mix.h"

namespace edgevl {

class ThreadPool;

// "qwen2-vl-2b", "qwen2.5-vl-3b", "qwen2.5-vl-7b".
const std::vector<std::string>& random_model_preset_names();
// The config.json of the named Instruct model (kInvalidArgument for an unknown name).
ModelConfig random_model_preset(const std::string& name);

struct RandomTensor {
  enum class Init : uint8_t { Normal, Ones, Zeros };
  std::string name;            // GGUF name
  DType type = DType::F32;
  std::vector<int64_t> shape;  // PyTorch order (outermost first)
  Init init = Init::Normal;

  int64_t numel() const;
  size_t nbytes() const;  // bytes of its data in the file (before alignment padding)
};

// Every tensor of both files, in file order, with the types the converter would pick:
// 1-D tensors f32; matrices text_type / vision_type, or f16 when a block type does not
// divide the row; the two patch-kernel halves float (vision_type if float, else f16).
struct RandomModelPlan {
  ModelConfig config;
  std::vector<RandomTensor> text, vision;
  int64_t text_params() const;
  int64_t vision_params() const;
};
// With mix set, the text matrices follow llama-quantize's k-quant mix instead (quant_mix.h).
RandomModelPlan plan_random_model(const ModelConfig& cfg, DType text_type, DType vision_type, KQuantMix mix = KQuantMix::None);

struct RandomModelOptions {
  DType text_type = DType::Q4_0;   // f32, f16, bf16, q8_0, q4_0
  KQuantMix text_mix = KQuantMix::None;  // when set, overrides text_type: q4_k_m / q5_k_m / q6_k mixes
  DType vision_type = DType::F16;  // f32, f16, bf16, q8_0, q4_0
  uint64_t seed = 0;
  float stddev = 0.02f;
  int text_layers = 0;    // > 0: override the decoder depth (quick tests)
  int vision_layers = 0;  // > 0: override the vision tower depth
  std::string tokenizer_dir;  // HF directory whose tokenizer.json / tokenizer_config.json /
                              // preprocessor_config.json are copied in (empty: no tokenizer)
  std::string name;           // general.name (default "edgevl-random")
  bool legacy_clip_ffn_names = false;  // Qwen2-VL: fc1/fc2 named as early-2025 llama.cpp (GgufConvertOptions)
  int n_threads = 0;          // 0 = all cores
  // Called after each tensor is written: (file index 0 = text / 1 = mmproj, tensors done, tensors in that file).
  std::function<void(int, size_t, size_t)> progress;
};

struct RandomModelResult {
  RandomModelPlan plan;
  uint64_t text_file_bytes = 0, mmproj_file_bytes = 0;
  double seconds = 0;
};

// Applies the depth overrides to cfg, then writes text_out and (unless empty) mmproj_out;
// each appears only when complete.
RandomModelResult write_random_model(const ModelConfig& cfg, const RandomModelOptions& opt, const std::string& text_out,
                                     const std::string& mmproj_out);

// The f32 values of row `row` of tensor t as write_random_model generates them (for tests).
void random_model_row(const RandomTensor& t, uint64_t seed, float stddev, int64_t row, float* out);

}  // namespace edgevl
